"""Which networks to average: every ensemble of SIZE networks drawn from saved models, scored on the validation split
carved from train (float32 Keras, all faces), best first. The test split is not read: this is how a shipped ensemble
is chosen (docs/experiments.md), before its test figure is.

    FER_DATA_DIR=../shared/data/fer2013 python benchmarks/bench_ensembles.py --size 4 MODEL [MODEL ...]

A model that is itself an ensemble adds each of its networks (named MODEL#1, MODEL#2, ...). Each model must have been
trained on this data with this validation split (its metadata.json says so), else it is refused. Each network answers
once; the table then scores the mean of every combination's answers. Writes the table to docs/benchmarks.md.
"""

import argparse
import itertools
import os
from pathlib import Path

import numpy as np
import pandas as pd
from report import markdown_table, write_section

from fer_helpers import data, evaluation, models, training

TOP = 15  # rows written: the best combinations


def short_names(paths: list[str]) -> list[str]:
    """Each path less the folders all of them share and a file name all of them share: the parts that tell them apart."""
    parts = [Path(path).resolve().parts for path in paths]
    if len(paths) > 1 and len({p[-1] for p in parts}) == 1:
        parts = [p[:-1] for p in parts]
    shared = min(len(os.path.commonprefix(parts)), min(map(len, parts)) - 1)
    names = ["/".join(p[shared:]) for p in parts]
    if len(set(names)) < len(names):
        raise ValueError(f"The same model is named twice: {paths}")
    return names


def network_answers(paths: list[str], dataset: data.Dataset, split_seed: int) -> dict[str, np.ndarray]:
    """Each network's validation probabilities, keyed by a readable name; ensembles are split into their networks."""
    images = dataset.arrays("val")[0]
    answers = {}
    for name, (model, _) in zip(short_names(paths), training.load_members(paths, dataset, split_seed)):
        found = models.networks(model)
        for i, network in enumerate(found, 1):
            answers[name if len(found) == 1 else f"{name}#{i}"] = evaluation.predict_probabilities(network, images)
    return answers


def combinations_table(answers: dict[str, np.ndarray], labels: np.ndarray, classes: list[str], size: int) -> pd.DataFrame:
    """Validation accuracy and macro-F1 (%) of the mean answers of every `size` networks, best first."""
    if not 1 <= size <= len(answers):
        raise ValueError(f"--size must be 1 to {len(answers)}, the networks given; got {size}")
    rows = {}
    for chosen in itertools.combinations(answers, size):
        scores = evaluation.headline(labels, np.mean([answers[name] for name in chosen], axis=0), classes)
        rows[" + ".join(chosen)] = {"val accuracy %": 100 * scores["accuracy"], "val macro-F1 %": 100 * scores["macro_f1"]}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("networks")
    return table.sort_values(["val accuracy %", "val macro-F1 %"], ascending=False)


def main() -> None:
    """Score every combination and write the best ones."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="saved models (.keras with metadata.json beside it)")
    parser.add_argument("--size", type=int, default=4, help="networks per ensemble (default 4, the shipped count)")
    parser.add_argument("--seed", type=int, default=data.SEED, help=f"validation split seed (default {data.SEED})")
    args = parser.parse_args()
    dataset = data.load_dataset(seed=args.seed)
    answers = network_answers(args.models, dataset, args.seed)
    labels = dataset.arrays("val")[1]
    alone = combinations_table(answers, labels, dataset.classes, 1)
    table = combinations_table(answers, labels, dataset.classes, args.size)
    print(markdown_table(alone), "", markdown_table(table), sep="\n")
    write_section("ensembles", f"""## Which networks to average (`benchmarks/bench_ensembles.py`)
Every ensemble of {args.size} of these {len(answers)} networks, the mean of their class probabilities, on the
{len(labels):,} validation faces carved from train (split seed {args.seed}; float32 Keras; test not read), best
{min(TOP, len(table))} of {len(table)}. The models: {", ".join(f"`{path}`" for path in args.models)}. The networks alone:

{markdown_table(alone)}

{markdown_table(table.head(TOP))}""")


if __name__ == "__main__":
    main()
