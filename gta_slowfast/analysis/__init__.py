"""What a tested model gets right and wrong, from its per-video scores.

* :mod:`~gta_slowfast.analysis.class_report` computes per-class top-1,
  mean class accuracy, the confusion matrix and the most confused classes;
* :mod:`~gta_slowfast.analysis.temporal_pairs` finds the class pairs that
  only temporal order (or left/right) tells apart and how well a model
  separates them;
* :mod:`~gta_slowfast.analysis.confusion_figure` draws the confusion matrix
  as a PNG, pairs side by side;
* :mod:`~gta_slowfast.analysis.report_files` writes all of it beside a
  scores file (testing, ``tools/analyze_scores.py``) and reads the scores
  files back.
"""
