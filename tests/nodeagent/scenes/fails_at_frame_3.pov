// The sphere of sphere.pov, except that frame 3 of its animation does not parse: a chunk
// that holds frame 3 fails there, after the frames before it were rendered.
#version 3.7;
#if (frame_number = 3) #error "frame 3 is broken" #end
global_settings { assumed_gamma 1.0 }
camera { location <0, 1.2, -4> look_at <0, 0.5, 0> }
light_source { <5, 10, -10> color rgb 1 }
background { color rgb <0.1, 0.1, 0.2> }
plane { y, 0 pigment { checker color rgb 1 color rgb 0.3 } }
sphere { <-1.5 + 3 * clock, 0.5, 0>, 0.5 pigment { color rgb <1, 0.3, 0.2> } finish { phong 0.6 } }
