# The wrong EOI order, and the storm: see level.inc.
        .set WRONG_ORDER, 1
        .include "level.inc"
