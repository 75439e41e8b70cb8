"""Architectures side by side: parameters, multiply-adds, CPU latency (1 and 32 faces), training images/s.
Writes the table to docs/benchmarks.md and one model card per architecture to docs/model_cards/.

    python benchmarks/bench_models.py
"""

from pathlib import Path

from report import cell, markdown_table, write_section

from fer_helpers.files import atomic_write
from fer_helpers.models import ARCHITECTURES
from fer_helpers.profiling import compare, hardware

CARDS = Path(__file__).resolve().parent.parent / "docs" / "model_cards"


def card_markdown(name: str, row: dict, machine: str) -> str:
    """One architecture's card."""
    lines = [f"# Model card: `{name}`", "", f"Measured by `benchmarks/bench_models.py` on {machine}.", "",
             "| measure | value |", "|---|---:|"]
    lines += [f"| {key.replace('_', ' ')} | {cell(value)} |" for key, value in row.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Measure every registered architecture in one run and write the results."""
    machine = hardware()
    table = compare(list(ARCHITECTURES))
    seed = table.loc["seed_cnn"]
    table["training_speed_vs_seed"] = (table["training_images_per_s"] / seed["training_images_per_s"]).round(2)
    table["cost_vs_seed"] = (table["multiply_adds_M"] / seed["multiply_adds_M"]).round(2)
    print(table.to_string())
    for name, row in table.iterrows():
        card = card_markdown(name, row.to_dict(), machine)
        atomic_write(CARDS / f"{name}.md", lambda tmp, card=card: tmp.write_text(card))
    write_section("models", f"""## Architectures (`benchmarks/bench_models.py`)

Side by side in one run on {machine}, 7 classes, 48x48x1 input. Latency: median of 30 compiled
forward calls (`predict_on_batch`); training: median of 8 `train_on_batch` steps of 64 faces.
Model cards: `docs/model_cards/`.

{markdown_table(table)}
""")


if __name__ == "__main__":
    main()
