"""JAX / optax: cycle Adam's learning rate and b1 together with optax.inject_hyperparams.

A two-layer MLP on scikit-learn's digits, in plain JAX; runs in seconds on a CPU.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import cyclr
from cyclr.optax import cyclic_schedule

x, y = load_digits(return_X_y=True)
x_train, x_val, y_train, y_val = train_test_split((x / 16.0).astype("float32"), y, test_size=0.25, random_state=0)
batch_size = 32
steps_per_epoch = len(x_train) // batch_size

# LR between base_lr and max_lr, b1 the other way round (0.95 at base_lr, 0.85 at max_lr), as in Smith (2018).
lr = cyclic_schedule(1e-3, 6e-3, step_size_up=cyclr.recommended_step_size(steps_per_epoch), mode="triangular2")
optimizer = optax.inject_hyperparams(optax.adam)(learning_rate=lr, b1=lr.momentum(0.85, 0.95))


def init(key: jax.Array) -> dict:
    k1, k2 = jax.random.split(key)
    return {
        "w1": jax.random.normal(k1, (64, 64)) * 0.125,
        "b1": jnp.zeros(64),
        "w2": jax.random.normal(k2, (64, 10)) * 0.125,
        "b2": jnp.zeros(10),
    }


def logits(params: dict, xb: jax.Array) -> jax.Array:
    return jax.nn.relu(xb @ params["w1"] + params["b1"]) @ params["w2"] + params["b2"]


def loss(params: dict, xb: jax.Array, yb: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(logits(params, xb), yb).mean()


@jax.jit
def train_step(params, state, xb, yb):
    grads = jax.grad(loss)(params, xb, yb)
    updates, state = optimizer.update(grads, state, params)
    return optax.apply_updates(params, updates), state


params = init(jax.random.PRNGKey(0))
state = optimizer.init(params)
epochs = cyclr.cycle_aligned_iterations(24 * steps_per_epoch, lr.schedule.step_size_up) // steps_per_epoch
rng = np.random.default_rng(0)
for epoch in range(epochs):
    order = rng.permutation(len(x_train))
    for i in range(steps_per_epoch):
        idx = order[i * batch_size : (i + 1) * batch_size]
        params, state = train_step(params, state, x_train[idx], y_train[idx])
    if (epoch + 1) % 4 == 0:
        accuracy = float((logits(params, x_val).argmax(1) == y_val).mean())
        hp = state.hyperparams
        print(
            f"epoch {epoch + 1:2d}: lr={float(hp['learning_rate']):.5f} b1={float(hp['b1']):.3f} "
            f"val_accuracy={accuracy:.3f}"
        )
