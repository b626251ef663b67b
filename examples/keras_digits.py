"""Keras 3: find the CLR bounds with a range test, train one cycle-aligned run, save and reload.

Runs on any Keras backend (torch by default here) in under a minute on a CPU:

    KERAS_BACKEND=jax python examples/keras_digits.py
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import cyclr  # noqa: E402
from cyclr.keras import CyclicLR, LRFinder  # noqa: E402

x, y = load_digits(return_X_y=True)
x = (x / 16.0).astype("float32")
x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.25, random_state=0)
batch_size = 32
steps_per_epoch = -(-len(x_train) // batch_size)


def build(learning_rate) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)])
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


# 1. The paper's range test: a linear LR sweep over 8 epochs, read off the validation accuracy.
finder = LRFinder(build(0.01), progress=False)
result = finder.range_test(
    x_train,
    y_train,
    validation_data=(x_val, y_val),
    start_lr=0.0,
    end_lr=1.0,
    num_iter=8 * steps_per_epoch,
    batch_size=batch_size,
)
bounds = result.suggest()
print(f"range test: {bounds}")

# 2. Train with the triangular policy: half a cycle = 4 epochs, stop at a cycle end.
step_size = cyclr.recommended_step_size(steps_per_epoch, epochs_per_step=4)
schedule = CyclicLR(bounds.base_lr, bounds.max_lr, step_size_up=step_size)
epochs = cyclr.cycle_aligned_iterations(24 * steps_per_epoch, step_size) // steps_per_epoch
model = build(schedule)
model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=0)
print(f"{epochs} epochs of CLR: validation accuracy {model.evaluate(x_val, y_val, verbose=0)[1]:.3f}")

# 3. The schedule is saved with the model and comes back without custom_objects.
model.save("digits_clr.keras")
reloaded = keras.models.load_model("digits_clr.keras")
print(f"reloaded with its schedule: {reloaded.optimizer.get_config()['learning_rate']['registered_name']}")
os.remove("digits_clr.keras")
