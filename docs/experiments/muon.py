"""q15muon: q15default's recipe (default fer_resnet, batch 128, no erasing or mixup, 15-minute budget) with Muon's
orthogonalised momentum for every convolution kernel (flattened to (kh*kw*in, out)); Adam (AdamW) for the rest.

    python3 docs/experiments/muon.py RUN_ID muon|adam
"""
import re
import sys

import keras
from keras import ops

from fer_helpers import data, models


@keras.saving.register_keras_serializable(package="answers")  # so best.keras loads with its optimizer
class ConvMuon(keras.optimizers.Muon):
    """Keras's Muon, which leaves every non-2D variable to AdamW, extended to 4D convolution kernels."""

    def _should_use_adamw(self, variable):
        if len(variable.shape) == 4:
            return any(re.search(keyword, variable.path) for keyword in self.exclude_layers)
        return super()._should_use_adamw(variable)

    def _muon_update_step(self, gradient, variable, lr, m):
        if len(variable.shape) != 4:
            return super()._muon_update_step(gradient, variable, lr, m)
        self.assign_add(m, ops.add(gradient, m * (self.momentum - 1)))
        g = ops.add(gradient, self.momentum * m) if self.nesterov else m
        flat = ops.cast(ops.reshape(g, (-1, variable.shape[-1])), "bfloat16")  # as Muon's own code runs it
        update = self.lr_adjust(lr * ops.cast(self.zeropower_via_newtonschulz5(flat, self.ns_steps), variable.dtype))
        self.assign_sub(variable, ops.reshape(update, variable.shape))


def compile_with_muon(model, learning_rate, label_smoothing=0.0):
    model.compile(optimizer=ConvMuon(learning_rate, exclude_layers=["expression", "stem"]),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing), metrics=["accuracy"])
    return model


if __name__ == "__main__":
    from air import train_and_score

    run_id, optimizer = sys.argv[1], sys.argv[2]  # optimizer: "muon", or "adam" for the control
    if optimizer == "muon":
        models.compile_model = compile_with_muon
    train_and_score(data.load_dataset(seed=1337), "fer_resnet", run_id)
