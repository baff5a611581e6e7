"""Fair relocation of refugees among willing states.

Data flows one way: inputs (`schema`) -> distribution key (`keys`) -> integer targets (`apportion`)
-> placement model (`model`) -> plan -> fairness metrics (`metrics`) -> reports (`report`), with
`compare` running formula variants side by side and `cli` as the `relocate` command.
"""

__version__ = "0.1.0"
