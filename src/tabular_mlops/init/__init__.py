"""`make init`: draft a fork's dataset configuration (params.yaml) from its own CSV.

The draft is a starting point a person reviews, so every heuristic errs towards a config that
loads, trains and flags real problems without false alarms on the data it was drafted from:

- Task: a target with exactly two distinct values is binary; a numeric one with fractions or more
  than 20 distinct values is a regression; anything else (text, a few whole numbers) is
  multiclass. TASK= overrides. A regression target must be all numbers; a multiclass label needs
  at least 5 rows, so the 20% test split holds one and every class can be scored.
- Multiclass labels are in sorted order (numbers numerically), not by frequency: the order is
  the class codes, and it must not change when new rows shift the counts.
- Positive label: the positive member of a conventional pair (1 of 0/1, true, yes, y, t,
  positive), else the minority class, as the class a model is usually asked to find (default,
  fraud, disease); POSITIVE= overrides. Labels keep the type pandas reads (1, True, "Yes").
- Kinds: numbers that are all whole are `integer`, other numbers `number`. Text with at most 50
  distinct values that does not name each row is a `category`; booleans are categories
  [false, true]. Text that is nearly unique per row, long (free text) or shaped like dates is
  `ignored`: as a category it would only memorise rows or explode the encoding. A column with a
  single value, or none, is ignored: it carries no signal.
- Id column: ID= (checked: present, unique, never empty; ID=none for no id), else the first
  column named like an id (`id`, `*_id`, `id_*`, `*Id`, `*ID`, `index`, `Unnamed: 0`) whose
  values are unique and never empty. A column is never made the id on its values alone: a unique
  integer may be a real quantity; such columns are reported for review instead.
- Ranges: `range` (critical) is the observed [min, max] widened by its span on each side, never
  below 0 for non-negative data, rounded outward: it only catches values that cannot be right
  (unit changes, sentinels such as -999). `warn` is the observed [min, max]: new extremes are
  worth a look, not a rejection. `median` (a warning) is the observed median +- half the
  interquartile range, only for columns with 10 or more distinct values and a non-zero spread:
  elsewhere (0/1 flags, mostly-zero columns) a median band is either trivially met or noise.
  0/1 columns get range [0, 1] only.
- Missing: the observed share of empty cells plus three standard errors of that share in a
  50-row batch (ingest's smallest), rounded up to 0.01, so batches do not fail by chance.
- Validate: min_rows is a tenth of the rows (at least 50, never above the rows), max_rows 100x
  the rows; the positive class's share (binary) or every label's (multiclass) may move by three
  standard errors of a 50-row batch (at least 0.05) either way, but never below a quarter of the
  observed share, so a file without the class still fails. A regression target gets
  `target_range`, drafted like a number column's `range`.
- Slices: up to three categories (or 0/1 columns) with 2 to 10 values, those whose smallest
  group is largest first, so each slice has test rows to judge. Bands: the quartiles of the
  numeric column whose ranks tell the target apart best (|Spearman| for a regression target,
  the correlation ratio across labels otherwise, which for two labels is the same |Spearman|).
- Gates: floors only ask the model to beat the Dummy baseline by a margin; `make set-floors`
  later sets them from measured metrics. Binary: roc_auc 0.5 + 0.1, pr_auc the positive share
  plus half of it. Multiclass: roc_auc_ovr 0.5 + 0.1, f1_macro that of always answering the
  majority label + 0.05 (accuracy has no floor: with balanced class weights a good model may
  trade it for the rare classes). Regression: 5% less error than predicting the mean (rmse below
  the target's std, mae below its mean absolute deviation) and r2 0.1.

`make set-floors` (`tabular_mlops.init.floors`) edits only the floor values in params.yaml.
"""
