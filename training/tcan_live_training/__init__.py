"""The offline trainer: data, GAN training, checkpoints, and shipping of default engines.

Installed as ``tcan_live_training`` from the design card's ``training/`` folder. The library
(``tcan_live``) never imports it; only the ``train`` and ``ship-engine`` commands do.
"""
