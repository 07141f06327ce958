// Raycrafter example: "orbit" -- a 24-frame looping animation.
//
// Submit with frames 1-24 (any range works, see "Animation" below) at e.g. 320x240.
// What moves:
//   * the camera circles the centre of the scene once per animation (full 360 degrees);
//   * a small green ball orbits the chrome sphere twice per animation, in the opposite
//     direction, so it is clearly in a different place on every frame;
//   * an orange ball bounces on the floor three times per animation.
// Everything else (sun, floor, the other objects) stays put, so the shadows on the
// checkered floor show the motion as well.
// Rendering cost: no radiosity, no media, no area lights; a few reflective surfaces only.
// Antialiasing is left to the job options (+A...), it is not set here.

#version 3.7;

global_settings {
  assumed_gamma 1.0
  max_trace_level 5        // enough for the chrome/glass reflections, keeps frames quick
}

#include "colors.inc"

// ---------------------------------------------------------------------------------------
// Animation
//
// The node agent renders each frame N of the job's range FIRST..LAST on its own, as
//   povray +Iscene.pov ... +KFI<FIRST> +KFF<LAST> +SF<N> +EF<N>
// so POV-Ray knows the whole range: initial_frame = FIRST, final_frame = LAST and
// frame_number = N, while `clock` runs from 0.0 (frame FIRST) to 1.0 (frame LAST).
//
// `clock` is not used directly, for two reasons:
//   * for a loop, clock = 1.0 on the last frame is the same picture as clock = 0.0 on the
//     first one (a full turn), so the animation would stutter when played in a loop;
//   * for a one-frame job (FIRST = LAST) POV-Ray 3.7 sets clock to NaN.
// Phase below runs from 0 on the first frame up to (not including) 1: for frames 1-24 it
// is 0/24, 1/24, ... 23/24, and it is 0 for a single frame or a plain, non-animated run.
#declare Phase = (frame_number - initial_frame) / (final_frame - initial_frame + 1);

// ---------------------------------------------------------------------------------------
// Camera: orbits the origin once per animation at a radius of 9, looking slightly down.
#declare CamAngle = 360 * Phase;
camera {
  location <0, 3.2, -9>
  look_at  <0, 0.9, 0>
  right    x * image_width / image_height   // keep the aspect right at any resolution
  angle    55
  rotate   y * CamAngle
}

// ---------------------------------------------------------------------------------------
// Light: one "sun", high and to the side, casting sharp shadows; a faint shadowless fill
// light keeps the shadowed sides from going completely black.
light_source { <-30, 45, -20> color rgb <1.0, 0.96, 0.88> * 1.3 }
light_source { <20, 15, 30> color rgb 0.15 shadowless }

// ---------------------------------------------------------------------------------------
// Sky: a blue gradient, lighter at the horizon.
sky_sphere {
  pigment {
    gradient y
    color_map {
      [0.00 color rgb <0.80, 0.87, 1.00>]
      [0.12 color rgb <0.35, 0.55, 0.95>]
      [1.00 color rgb <0.10, 0.25, 0.70>]
    }
  }
}

// ---------------------------------------------------------------------------------------
// Ground: a checkered plane, slightly reflective so the objects mirror in it.
plane {
  y, 0
  texture {
    pigment { checker color rgb <0.90, 0.90, 0.85> color rgb <0.12, 0.14, 0.20> scale 1.5 }
    finish  { ambient 0 diffuse 0.8 reflection 0.12 specular 0.2 }
  }
}

// ---------------------------------------------------------------------------------------
// Static objects around the centre.

// Chrome sphere in the middle: reflects the floor, the sky and the moving balls.
sphere {
  <0, 1.3, 0>, 1.3
  texture {
    pigment { color rgb 0.85 }
    finish  { ambient 0 diffuse 0.1 reflection { 0.75 metallic } specular 0.9 roughness 0.002 }
  }
}

// Red glossy sphere.
sphere {
  <2.8, 0.8, 1.5>, 0.8
  texture {
    pigment { color rgb <0.80, 0.08, 0.06> }
    finish  { ambient 0 diffuse 0.7 reflection 0.15 specular 0.7 roughness 0.01 }
  }
}

// Gold torus standing on its edge.
torus {
  0.75, 0.22
  rotate x * 90
  rotate y * 30
  translate <-2.7, 0.97, 1.2>
  texture {
    pigment { color rgb <0.95, 0.70, 0.25> }
    finish  { ambient 0 diffuse 0.3 reflection { 0.45 metallic } specular 0.8 roughness 0.005 }
  }
}

// Blue rounded box (a box intersected with a sphere), turned a little.
intersection {
  box    { <-0.7, 0, -0.7>, <0.7, 1.4, 0.7> }
  sphere { <0, 0.7, 0>, 0.95 }
  rotate y * 25
  translate <-1.6, 0, -2.6>
  texture {
    pigment { color rgb <0.10, 0.30, 0.85> }
    finish  { ambient 0 diffuse 0.7 specular 0.5 roughness 0.02 reflection 0.08 }
  }
}

// Clear glass-like cone (no refraction, to stay cheap: just filter and a highlight).
cone {
  <2.2, 0, -2.4>, 0.65, <2.2, 1.6, -2.4>, 0.0
  texture {
    pigment { color rgbf <0.7, 1.0, 0.8, 0.6> }
    finish  { ambient 0 diffuse 0.4 specular 0.9 roughness 0.003 reflection 0.1 }
  }
}

// ---------------------------------------------------------------------------------------
// Moving objects.

// Green ball: orbits the chrome sphere twice per animation, clockwise seen from above
// (the camera goes the other way), at radius 2.0, bobbing gently up and down.
#declare BallAngle = -720 * Phase;
sphere {
  <2.0, 0, 0>, 0.35
  translate y * (1.5 + 0.4 * sin(radians(2 * BallAngle)))
  rotate y * BallAngle
  texture {
    pigment { color rgb <0.15, 0.75, 0.20> }
    finish  { ambient 0 diffuse 0.7 specular 0.8 roughness 0.005 reflection 0.2 }
  }
}

// Orange ball: bounces three times per animation; |sin| gives a bounce-like curve that
// touches the floor (y = radius) at the start of every bounce.
#declare Bounce = abs(sin(pi * 3 * Phase));
sphere {
  <0, 0.45 + 2.2 * Bounce, 0>, 0.45
  translate <0.6, 0, -3.6>
  texture {
    pigment { color rgb <1.0, 0.45, 0.05> }
    finish  { ambient 0 diffuse 0.75 specular 0.6 roughness 0.01 reflection 0.1 }
  }
}
