# The reference renderer as the peer of `jess render`: Debian's Blender (Cycles path tracing on the
# CPU, as 3DIEBench's BlenderProc generator) renders 3DIEBench's scene for a handful of views of one
# mesh and prints one JSON line with the seconds per image. Run by bench/render_bench.py:
#   blender -b --factory-startup -P bench/render_blender.py -- MESH.obj SIZE VIEWS SAMPLES THREADS OUT_DIR
# The scene follows 3DIEBench's data/main.py as described in its paper and README: floor plane at
# z = -1 in HSV(h, 0.6, 0.6), a sun of energy 1.5 and angle pi/2, a spot of energy 500 and size pi/8 on
# the sphere of radius 4 looking at the origin in HSV(h, 1, 0.8), the camera at distance 2.5,
# theta = pi/4, phi = pi/2 looking at the origin, the object's origin at its bounding-box centre.
import colorsys
import json
import math
import os
import random
import sys
import time

import bpy
from mathutils import Vector

argv = sys.argv[sys.argv.index("--") + 1:]
mesh_path, size, views, samples, threads, out_dir = argv[0], int(argv[1]), int(argv[2]), int(argv[3]), int(argv[4]), argv[5]
os.makedirs(out_dir, exist_ok=True)
random.seed(0)


def spherical(r, theta, phi):
    return Vector((r * math.sin(theta) * math.cos(phi), r * math.sin(theta) * math.sin(phi), r * math.cos(theta)))


def look_at(obj, target=Vector((0, 0, 0))):
    direction = target - obj.location
    obj.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()


setup_start = time.time()
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
bpy.context.view_layer.cycles.use_denoising = False
scene.render.engine = "CYCLES"
scene.cycles.device = "CPU"
scene.cycles.samples = samples
# BlenderProc denoises with Intel's OpenImageDenoise, which Debian's Blender is built without: off
# (denoising would add time, so the peer's seconds are a lower bound).
scene.cycles.use_denoising = False
scene.render.threads_mode = "FIXED"
scene.render.threads = threads
scene.render.resolution_x = size
scene.render.resolution_y = size
scene.render.image_settings.file_format = "JPEG"

bpy.ops.mesh.primitive_plane_add(size=10000, location=(0, 0, -1))
floor = bpy.context.active_object
floor_material = bpy.data.materials.new("floor")
floor.data.materials.append(floor_material)

bpy.ops.object.light_add(type="SUN")
sun = bpy.context.active_object
sun.data.energy = 1.5
sun.data.angle = math.pi / 2

bpy.ops.object.light_add(type="SPOT")
spot = bpy.context.active_object
spot.data.energy = 500
spot.data.spot_size = math.pi / 8

bpy.ops.object.camera_add()
camera = bpy.context.active_object
camera.location = spherical(2.5, math.pi / 4, math.pi / 2)
look_at(camera)
scene.camera = camera

if mesh_path.endswith(".obj"):
    bpy.ops.wm.obj_import(filepath=mesh_path)
else:
    bpy.ops.import_mesh.ply(filepath=mesh_path)
obj = bpy.context.selected_objects[0]
bpy.context.view_layer.objects.active = obj
bpy.ops.object.origin_set(type="ORIGIN_GEOMETRY", center="BOUNDS")
obj.location = (0, 0, 0)
setup_seconds = time.time() - setup_start

times = []
for i in range(views):
    floor_material.diffuse_color = (*colorsys.hsv_to_rgb(random.random(), 0.6, 0.6), 1)
    spot.location = spherical(4, random.uniform(0, math.pi / 4), random.uniform(0, 2 * math.pi))
    look_at(spot)
    spot.data.color = colorsys.hsv_to_rgb(random.random(), 1, 0.8)
    obj.rotation_euler = [random.uniform(-math.pi / 2, math.pi / 2) for _ in range(3)]
    scene.render.filepath = os.path.join(out_dir, f"image_{i}.jpg")
    start = time.time()
    bpy.ops.render.render(write_still=True)
    times.append(time.time() - start)

print("JESS_BLENDER_RESULT " + json.dumps({"size": size, "samples": samples, "threads": threads, "views": views,
                                           "setup_seconds": setup_seconds, "seconds_per_image": times}))
