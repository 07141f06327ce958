// A scene with a syntax error: "pigmnet" is not a keyword, so POV-Ray stops parsing.
#version 3.7;
global_settings { assumed_gamma 1.0 }
camera { location <0, 1, -4> look_at <0, 0.5, 0> }
light_source { <2, 4, -3> color rgb 1 }
sphere { <0, 0.5, 0>, 0.5 pigmnet { color rgb <1, 0.3, 0.2> } }
