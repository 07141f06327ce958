// Does not parse: "colr" is not a keyword.
#version 3.7;
camera { location <0, 1, -4> look_at <0, 0.5, 0> }
sphere { <0, 0.5, 0>, 0.5 pigment { colr rgb <1, 0.3, 0.2> } }
