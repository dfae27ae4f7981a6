# The right EOI order: see level.inc.
        .set WRONG_ORDER, 0
        .include "level.inc"
