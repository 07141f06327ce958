// Raycrafter example: "with-include" -- a scene that uses an asset file of its own.
//
// The scene #includes props.inc (in this directory), which defines a wooden Crate object
// and a Pinwheel() macro. Upload both together as an archive holding scene.pov at its top
// level, e.g.  tar czf with-include.tar.gz scene.pov props.inc  (or a .zip).
// Submit with frames 1-24 at e.g. 320x240.
//
// What moves (the camera stands still):
//   * the two pinwheels turn: the red one half a turn per animation, the blue one a full
//     turn backwards. Their blades alternate colour/white, so a wheel looks the same
//     again after 180 degrees: both end where they started and the animation loops;
//   * the sun swings across the sky over the animation, from the right-hand side of the
//     picture to the left, so the shadows of the crates and the poles sweep across the
//     floor (from pointing left to pointing right).

#version 3.7;

global_settings { assumed_gamma 1.0 }

#include "colors.inc"
#include "props.inc"      // our own assets, found next to this scene (see props.inc)

// ---------------------------------------------------------------------------------------
// Animation
//
// The node agent renders frame N of the job's range FIRST..LAST with
//   +KFI<FIRST> +KFF<LAST> +SF<N> +EF<N>
// so frame_number = N, initial_frame = FIRST, final_frame = LAST. Phase goes 0, 1/24, ...,
// 23/24 for frames 1-24; unlike `clock` it is also defined (0) for a one-frame job,
// where POV-Ray 3.7 sets clock to NaN.
#declare Phase = (frame_number - initial_frame) / (final_frame - initial_frame + 1);

// ---------------------------------------------------------------------------------------
camera {
  location <1.0, 2.4, -6.5>
  look_at  <0, 1.0, 0>
  right    x * image_width / image_height
  angle    50
}

// The sun: starts behind the camera (at -z), 28 degrees up (low, for long shadows), then is turned around the
// vertical axis from -60 degrees (front right, as seen by the camera) to +60 degrees
// (front left), so the shadows sweep across the floor.
#declare SunAngle = -60 + 120 * Phase;
light_source {
  <0, 0, -100>
  color rgb <1.0, 0.93, 0.80> * 1.4
  rotate x * 28
  rotate y * SunAngle
}
light_source { <-10, 12, -20> color rgb 0.2 shadowless }   // faint fill: shadows not pitch black

// A late-afternoon sky: warm at the horizon, blue overhead.
sky_sphere {
  pigment {
    gradient y
    color_map {
      [0.00 color rgb <1.00, 0.80, 0.55>]
      [0.15 color rgb <0.45, 0.60, 0.90>]
      [1.00 color rgb <0.15, 0.25, 0.60>]
    }
  }
}

// Floor: large grey-green tiles.
plane {
  y, 0
  texture {
    pigment { checker color rgb <0.55, 0.62, 0.50> color rgb <0.35, 0.42, 0.32> scale 1.0 }
    finish  { ambient 0 diffuse 0.85 }
  }
}

// Crates from props.inc: a stack of three and one on its own, turned a little.
object { Crate rotate y * 10  translate <-1.3, 0, 0.3> }
object { Crate rotate y * -8  translate <-0.2, 0, 0.5> }
object { Crate rotate y * 25  translate <-0.8, 1, 0.4> }
object { Crate rotate y * -30 scale 0.7 translate <1.6, 0, -1.0> }

// Pinwheels from props.inc, turned by the animation.
object { Pinwheel( 180 * Phase, color rgb <0.85, 0.10, 0.08>) translate <0.9, 0, 0.2> }
object { Pinwheel(-360 * Phase, color rgb <0.10, 0.30, 0.90>) scale 0.8 translate <2.4, 0, 1.2> }
