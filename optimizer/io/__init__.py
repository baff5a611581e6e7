"""Reading and checking inputs (text, states, cases, scenarios) and writing output folders.

Every file the package reads passes through `text`, which refuses what it cannot read safely, so
the modules for each kind of input can trust the text cells they get.
"""
