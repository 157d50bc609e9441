"""Stage 1, load: a blueprint folder as written and the appliance catalogue. Nothing here knows
the resolved model.

:mod:`.load` reads the file (bounded, line-numbered YAML) into the records of :mod:`.schema`;
:mod:`.problems` words pydantic's errors, :mod:`.source` keeps the line of every path,
:mod:`.confine` keeps the files a blueprint names inside its folder, and :mod:`.appliances`
loads ``.gns3a`` files.
"""
