// A red sphere rolling across a checkered floor: clock runs from 0 on the first frame to
// 1 on the last, so every frame of the animation is a different image.
#version 3.7;
global_settings { assumed_gamma 1.0 }
camera { location <0, 1.2, -4> look_at <0, 0.5, 0> }
light_source { <5, 10, -10> color rgb 1 }
background { color rgb <0.1, 0.1, 0.2> }
plane { y, 0 pigment { checker color rgb 1 color rgb 0.3 } }
sphere { <-1.5 + 3 * clock, 0.5, 0>, 0.5 pigment { color rgb <1, 0.3, 0.2> } finish { phong 0.6 } }
