"""Runs INSIDE the Blender worker process: ``python -m soundstage.previz.blender_worker``.

Why a separate process: importing bpy is heavy, Blender can crash the interpreter, and it pins
its own numpy. The parent sends one JSON object per line on stdin and reads one JSON reply per
line; Blender's own chatter is pushed to stderr so it can never corrupt the protocol.

Commands: {"cmd": "scene", "spec": <blocking spec>, "render": {...}} builds the set;
{"cmd": "shot", "index": i, "out": {"image": path, "depth": path|null}} renders one shot;
{"cmd": "save", "path": p} saves the .blend; {"cmd": "ping"}; {"cmd": "quit"}.
Every reply is {"ok": true, ...} or {"ok": false, "error": "one line"}.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

PROTOCOL_OUT: Any = None  # the real stdout, kept private for JSON replies


def _reply(payload: dict) -> None:
    PROTOCOL_OUT.write(json.dumps(payload) + "\n")
    PROTOCOL_OUT.flush()


def _linear(c: float) -> float:
    """sRGB -> the linear value Blender stores, so a palette colour renders as that colour."""
    c = min(max(float(c), 0.0), 1.0)
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


class BlockingBuilder:
    """Turns a blocking spec into Blender data: one Blender scene per shot sharing one set."""

    def __init__(self) -> None:
        import bpy

        self.bpy = bpy
        self.spec: dict | None = None
        self.render: dict = {}
        self.shot_scenes: dict[int, Any] = {}

    # -- primitives shared by every object (fast: no operators)
    def _meshes(self) -> None:
        import bmesh

        bpy = self.bpy
        self.mesh = {}
        for shape in ("cube", "cylinder", "sphere"):
            mesh = bpy.data.meshes.new(f"unit_{shape}")
            bm = bmesh.new()
            if shape == "cube":
                bmesh.ops.create_cube(bm, size=2.0)
            elif shape == "cylinder":
                bmesh.ops.create_cone(bm, cap_ends=True, segments=20, radius1=1.0, radius2=1.0, depth=2.0)
            else:
                bmesh.ops.create_uvsphere(bm, u_segments=24, v_segments=14, radius=1.0)
            bm.to_mesh(mesh)
            bm.free()
            if shape != "cube":
                mesh.shade_smooth()
            mesh.materials.append(self.material)
            self.mesh[shape] = mesh

    def _material(self) -> None:
        """One material for everything: Cycles reads the object colour, Workbench shows it directly."""
        bpy = self.bpy
        mat = bpy.data.materials.new("previz_object_colour")
        mat.use_nodes = True
        nodes, links = mat.node_tree.nodes, mat.node_tree.links
        bsdf = next(n for n in nodes if n.type == "BSDF_PRINCIPLED")
        info = nodes.new("ShaderNodeObjectInfo")
        links.new(info.outputs["Color"], bsdf.inputs["Base Color"])
        bsdf.inputs["Roughness"].default_value = 0.7
        self.material = mat

    def _object(self, name: str, shape: str, location, scale, color, collection, rotation=(0, 0, 0), parent=None):
        obj = self.bpy.data.objects.new(name, self.mesh[shape])
        obj.location = location
        obj.scale = scale
        obj.rotation_euler = [math.radians(a) for a in rotation]
        if collection is getattr(self, "set_collection", None) or name.startswith("prop_table"):
            color = [c * t for c, t in zip(color, self.set_tint)]
        obj.color = (*(_linear(c) for c in color), 1.0)  # the spec's colours are sRGB, as printed
        if parent is not None:
            obj.parent = parent
        collection.objects.link(obj)
        return obj

    # -- the set
    def build_scene(self, spec: dict, render: dict) -> None:
        bpy = self.bpy
        bpy.ops.wm.read_factory_settings(use_empty=True)
        self.spec, self.render, self.shot_scenes = spec, render, {}
        self._material()
        self._meshes()
        s, light = spec["scene"]["set"], spec["scene"]["lighting"]
        self.set_collection = bpy.data.collections.new("Set")
        world = bpy.data.worlds.new("previz_world")
        world.color = light["world_color"]
        world.use_nodes = True
        background = next(n for n in world.node_tree.nodes if n.type == "BACKGROUND")
        background.inputs["Color"].default_value = (*light["world_color"], 1.0)
        background.inputs["Strength"].default_value = 1.0
        self.world = world
        coll, grey = self.set_collection, (0.5, 0.5, 0.5)
        w, d, wall_h = s["width"], s["depth"], s["wall_height"]
        # the drawn look tells the time of day by tinting the set (the cast keeps its colours);
        # Cycles lights it for real instead
        tint = light.get("tint") or (1.0, 1.0, 1.0)
        self.set_tint = (1.0, 1.0, 1.0) if render.get("engine") == "cycles" else tuple(tint)
        if s["kind"] == "interior":
            self._object("floor", "cube", (0, d / 2 - 3.0, -0.02), (w / 2, d / 2 + 3.0, 0.02), (0.42, 0.38, 0.34), coll)
            self._object("wall.back", "cube", (0, d - 3.0, wall_h / 2), (w / 2, 0.05, wall_h / 2), (0.72, 0.7, 0.66), coll)
            for side in (-1, 1):
                self._object(f"wall.{'left' if side < 0 else 'right'}", "cube", (side * w / 2, d / 2 - 3.0, wall_h / 2),
                             (0.05, d / 2 + 3.0, wall_h / 2), (0.66, 0.64, 0.6), coll)
            lamp = bpy.data.lights.new("ceiling_light", type="AREA")
            lamp.energy = light["ceiling_light_w"]
            lamp.size = 2.0
            lamp_obj = bpy.data.objects.new("ceiling_light", lamp)
            lamp_obj.location = (0, 0.5, wall_h - 0.1)
            coll.objects.link(lamp_obj)
        elif s["kind"] == "neutral":
            self._object("stage_floor", "cylinder", (0, 0, -0.02), (max(w, d), max(w, d), 0.02), grey, coll)
        else:
            ground = (0.42, 0.55, 0.30) if s["kind"] == "landscape" else (0.56, 0.55, 0.52)
            self._object("ground", "cube", (0, 0, -0.05), (400, 400, 0.05), ground, coll)
            if s["kind"] == "street":
                self._object("road", "cube", (0, 2.5, -0.005), (400, 3.5, 0.01), (0.26, 0.26, 0.28), coll)
        for i, block in enumerate(s.get("blocks", [])):
            shade = block.get("shade", 0.5)
            colour = block.get("color") or (shade, shade * 0.97, shade * 0.93)
            self._object(f"block.{i:02d}", block.get("shape", "cube"), block["location"], block["scale"],
                         colour, coll)
        sun = bpy.data.lights.new("sun", type="SUN")
        sun.energy = light["sun_strength"]
        sun.color = light["sun_color"]
        sun_obj = bpy.data.objects.new("sun", sun)
        sun_obj.rotation_euler = (math.radians(90 - light["sun_elevation"]), 0, math.radians(light["sun_azimuth"]))
        coll.objects.link(sun_obj)
        self.sun = sun_obj

    # -- one shot = one Blender scene (set linked, its own people, props and camera)
    def build_shot(self, index: int):
        bpy = self.bpy
        from mathutils import Euler, Vector

        shot = self.spec["shots"][index]
        name = f"Shot {shot['id']}"[:60]
        scene = bpy.data.scenes.new(name)
        scene.world = self.world
        scene.collection.children.link(self.set_collection)
        people = bpy.data.collections.new(f"{name} cast")
        scene.collection.children.link(people)
        cam_spec = shot["camera"]
        cam = bpy.data.cameras.new(f"{name} camera")
        cam.lens = cam_spec["lens_mm"]
        cam.sensor_fit = "HORIZONTAL"
        cam.sensor_width = cam_spec["sensor_width_mm"]
        cam.clip_start = 0.05
        cam.clip_end = cam_spec["clip_end"]
        cam_obj = bpy.data.objects.new(f"{name} camera", cam)
        location = Vector(cam_spec["location"])
        direction = Vector(cam_spec["target"]) - location
        quat = direction.to_track_quat("-Z", "Y")
        if cam_spec.get("roll_deg"):
            from mathutils import Quaternion

            quat = quat @ Quaternion((0.0, 0.0, 1.0), math.radians(cam_spec["roll_deg"]))
        cam_obj.location = location
        cam_obj.rotation_euler = quat.to_euler()
        people.objects.link(cam_obj)
        scene.camera = cam_obj
        for person in shot["characters"]:
            root = bpy.data.objects.new(person["name"], None)
            root.location = person["location"]
            root.rotation_euler = Euler((0, 0, math.radians(person["facing_deg"])))
            people.objects.link(root)
            for part in person["parts"]:
                colour = (0.3, 0.28, 0.26) if part.get("neutral") else person["color"]
                self._object(f"{person['name']}.{part['part']}", part["shape"], part["location"], part["scale"],
                             colour, people, part.get("rotation", (0, 0, 0)), parent=root)
        for prop in shot["props"]:
            if not any(o.name.startswith("prop_table") for o in people.objects) and prop["location"][2] > 0.5:
                self._object(f"prop_table {name}", "cube", (0, prop["location"][1], 0.37), (0.9, 0.45, 0.37),
                             (0.55, 0.47, 0.40), people)
            self._object(f"prop.{prop['name']}", prop["shape"], prop["location"], prop["scale"], prop["color"],
                         people, prop.get("rotation", (0, 0, 0)))
        self._settings(scene)
        self.shot_scenes[index] = scene
        return scene

    def _settings(self, scene) -> None:
        light = self.spec["scene"]["lighting"]
        r = scene.render
        r.resolution_x, r.resolution_y, r.resolution_percentage = self.spec["width"], self.spec["height"], 100
        r.image_settings.file_format = "PNG"
        r.image_settings.color_mode = "RGB"
        r.image_settings.color_depth = "8"
        scene.view_settings.view_transform = "Standard"
        scene.view_settings.look = "None"
        if self.render.get("engine") == "cycles":
            r.engine = "CYCLES"
            scene.cycles.device = "CPU"
            scene.cycles.samples = int(self.render.get("samples", 16))
            scene.cycles.use_denoising = False
            scene.cycles.max_bounces = 3
            scene.view_settings.exposure = 0.0
        else:
            # the drawn look: flat tones in each object's colour and a dark outline around every
            # object; no grey studio shading. (Cavity shading looked a little richer but cost 25 %
            # more CPU per guarded panel on software GL: see docs/design/storyboards.md.)
            r.engine = "BLENDER_WORKBENCH"
            shading = scene.display.shading
            shading.light = "FLAT"
            shading.color_type = "OBJECT"
            shading.show_object_outline = True
            shading.object_outline_color = (0.05, 0.05, 0.06)
            shading.show_shadows = False
            shading.show_cavity = False
            shading.show_specular_highlight = False
            scene.display.render_aa = {"off": "OFF", "fxaa": "FXAA"}.get(self.render.get("antialias", "off"),
                                                                          str(self.render.get("antialias")))
            scene.view_settings.exposure = 0.0
            if light.get("sky"):  # exteriors: the sky gradient is laid behind the set afterwards
                r.film_transparent = True
                r.image_settings.color_mode = "RGBA"
        if self.render.get("depth"):
            scene.view_layers[0].use_pass_z = True
            tree = self.bpy.data.node_groups.new(f"{scene.name} depth", "CompositorNodeTree")
            scene.compositing_node_group = tree
            layers = tree.nodes.new("CompositorNodeRLayers")
            layers.scene = scene
            out = tree.nodes.new("CompositorNodeOutputFile")
            out.file_output_items.new("FLOAT", "depth")
            out.format.media_type = "IMAGE"
            out.format.file_format = "OPEN_EXR"
            out.format.color_depth = "32"
            out.format.color_mode = "BW"
            tree.links.new(layers.outputs["Depth"], out.inputs[0])
            self.depth_node = out

    def render_shot(self, index: int, image_path: str, depth_path: str | None) -> dict:
        bpy = self.bpy
        started = time.perf_counter()
        scene = self.build_shot(index)
        scene.render.filepath = image_path
        exr_dir = None
        depth_path = depth_path if self.render.get("depth") else None
        if depth_path:
            exr_dir = Path(image_path).parent / f"depth_{index}"
            node = scene.compositing_node_group.nodes["File Output"]
            node.directory = str(exr_dir)
            node.file_name = "z_"
        built = time.perf_counter()
        bpy.ops.render.render(write_still=True, scene=scene.name)
        print(f"shot {index}: build {built - started:.3f}s render {time.perf_counter() - built:.3f}s", file=sys.stderr)
        if not Path(image_path).is_file():
            raise RuntimeError("Blender rendered no image")
        reply = {"image": image_path, "render_seconds": round(time.perf_counter() - started, 3),
                 "engine": scene.render.engine}
        if depth_path:
            exrs = sorted(exr_dir.glob("*.exr"))
            if not exrs:
                raise RuntimeError("Blender wrote no depth pass")
            reply["depth"] = self._normalise_depth(exrs[0], depth_path)
            node.directory = "//depth/"  # keep the saved .blend free of scratch paths
        return reply

    def _normalise_depth(self, exr: Path, out_path: str) -> dict:
        """Z in metres -> 16-bit PNG, near = white, far and sky = black (the ControlNet convention)."""
        import numpy as np
        from PIL import Image

        img = self.bpy.data.images.load(str(exr))
        w, h = img.size
        data = np.empty(w * h * img.channels, dtype=np.float32)
        img.pixels.foreach_get(data)
        self.bpy.data.images.remove(img)
        z = data.reshape(h, w, -1)[::-1, :, 0]  # Blender stores rows bottom-up
        finite = z < 1e6
        near = float(z[finite].min()) if finite.any() else 0.0
        far = float(z[finite].max()) if finite.any() else 1.0
        scaled = np.zeros_like(z)
        if far > near:
            scaled[finite] = (far - z[finite]) / (far - near)
        scaled[finite] = np.clip(scaled[finite], 0.0, 1.0) * 0.98 + 0.02  # the far wall is not sky
        Image.fromarray((scaled * 65535).round().astype(np.uint16)).save(out_path)
        return {"path": out_path, "near_m": round(near, 4), "far_m": round(far, 4),
                "encoding": "16-bit grey, linear in metres between near and far; near=white, sky=black"}

    def save(self, path: str) -> str:
        bpy = self.bpy
        # the empty scene read_factory_settings left behind is useless to an artist
        for scene in list(bpy.data.scenes):
            if scene not in self.shot_scenes.values() and len(bpy.data.scenes) > 1:
                bpy.data.scenes.remove(scene)
        bpy.ops.wm.save_as_mainfile(filepath=path, check_existing=False, compress=True)
        return path


def serve() -> int:
    """Read commands until EOF or "quit"; a failing command replies an error and the loop goes on."""
    global PROTOCOL_OUT
    PROTOCOL_OUT = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # Blender prints progress on fd 1: send it to stderr
    sys.stdout = sys.stderr
    try:
        builder = BlockingBuilder()
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises BackendError
        _reply({"ok": False, "error": f"bpy cannot start: {exc}"})
        return 1
    _reply({"ok": True, "ready": True, "blender": builder.bpy.app.version_string})
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            msg = json.loads(line)
            cmd = msg.get("cmd")
            if cmd == "quit":
                _reply({"ok": True})
                return 0
            if cmd == "ping":
                _reply({"ok": True, "pid": os.getpid()})
            elif cmd == "scene":
                builder.build_scene(msg["spec"], msg.get("render", {}))
                _reply({"ok": True})
            elif cmd == "shot":
                out = msg["out"]
                _reply({"ok": True, **builder.render_shot(int(msg["index"]), out["image"], out.get("depth"))})
            elif cmd == "save":
                _reply({"ok": True, "path": builder.save(msg["path"])})
            else:
                _reply({"ok": False, "error": f"unknown command {cmd!r}"})
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc(file=sys.stderr)
            _reply({"ok": False, "error": " ".join(f"{type(exc).__name__}: {exc}".split())[:400]})
    return 0


if __name__ == "__main__":
    raise SystemExit(serve())
