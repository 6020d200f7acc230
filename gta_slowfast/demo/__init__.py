"""Synthetic data for the demo, the tests and the benchmarks.

* :mod:`~gta_slowfast.demo.scenes` renders the clips of the time-reversal
  classes;
* :mod:`~gta_slowfast.demo.video_writer` encodes frames into a video file;
* :mod:`~gta_slowfast.demo.annotations` writes the annotation files of
  SSv2, SSv1 and Kinetics in the layouts their data sets read;
* :mod:`~gta_slowfast.demo.synthetic_ssv2` puts the three together into
  the demo's data set.
"""
