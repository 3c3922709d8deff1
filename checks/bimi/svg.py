"""Pure check of a BIMI logo against the SVG Tiny Portable/Secure profile (SVG Tiny PS, the BIMI
group's profile of SVG Tiny 1.2): baseProfile="tiny-ps", version 1.2, a <title>, no scripts, no
animation or interactivity, no external references, no raster images, a square picture, small."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
MAX_BYTES = 32 * 1024  # the BIMI group's limit for the logo file
FORBIDDEN = {"script": "a <script>", "foreignObject": "a <foreignObject>", "image": "an <image> (raster or external)",
             "animate": "animation", "animateColor": "animation", "animateMotion": "animation",
             "animateTransform": "animation", "set": "animation", "a": "a link (<a>)", "handler": "a <handler>",
             "listener": "a <listener>"}


@dataclass(frozen=True)
class SvgVerdict:
    problems: tuple[str, ...]
    title: str = ""
    width: float | None = None
    height: float | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def _local(tag: str) -> str:
    return tag.rpartition("}")[2] if "}" in tag else tag


def _size(root: ET.Element) -> tuple[float | None, float | None]:
    box = re.split(r"[\s,]+", root.get("viewBox", "").strip())
    if len(box) == 4:
        try:
            return float(box[2]), float(box[3])
        except ValueError:
            pass
    try:
        return float(re.sub(r"px$", "", root.get("width", ""))), float(re.sub(r"px$", "", root.get("height", "")))
    except ValueError:
        return None, None


def check_svg(data: bytes) -> SvgVerdict:
    """The SVG Tiny PS problems of the logo ``data`` (empty when it conforms)."""
    problems: list[str] = []
    if len(data) > MAX_BYTES:
        problems.append(f"the file is {len(data)} bytes; BIMI logos must be at most {MAX_BYTES}")
    if re.search(rb"<!(DOCTYPE|ENTITY)", data, re.I):
        # entity declarations are refused before parsing (no entity expansion of untrusted XML)
        return SvgVerdict((*problems, "the file declares a DOCTYPE or entities, which SVG Tiny PS does not allow"))
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        return SvgVerdict((*problems, f"the file is not well-formed XML ({exc})"))
    if root.tag != f"{{{SVG_NS}}}svg":
        return SvgVerdict((*problems, f"the root element is {root.tag[:60]!r}, not an SVG <svg> element"))
    if root.get("baseProfile") != "tiny-ps":
        problems.append(f"baseProfile is {root.get('baseProfile')!r}, not \"tiny-ps\"")
    if root.get("version") != "1.2":
        problems.append(f"version is {root.get('version')!r}, not \"1.2\"")
    for attr in ("x", "y"):
        if root.get(attr) is not None:
            problems.append(f"the <svg> element has an {attr}= attribute, which SVG Tiny PS does not allow")
    title = next((el for el in root if _local(el.tag) == "title"), None)
    if title is None or not (title.text or "").strip():
        problems.append("there is no <title> (the brand's name) as a child of <svg>")
    seen: set[str] = set()
    for el in root.iter():
        name = _local(el.tag)
        if name in FORBIDDEN and FORBIDDEN[name] not in seen:
            seen.add(FORBIDDEN[name])
            problems.append(f"it contains {FORBIDDEN[name]}, which SVG Tiny PS does not allow")
        for key, value in el.attrib.items():
            if key.startswith("on") and "script handlers" not in seen:
                seen.add("script handlers")
                problems.append(f"it has a script handler ({key}=)")
            if (key in (XLINK_HREF, "href") and not value.startswith("#")) and "external" not in seen:
                seen.add("external")
                problems.append(f"it refers to an external resource ({value[:60]!r}); only #fragment links are allowed")
        if name == "style" and re.search(r"url\(\s*['\"]?(?!#)", el.text or "") and "external" not in seen:
            seen.add("external")
            problems.append("its style sheet refers to an external resource (url(...))")
    width, height = _size(root)
    if width is None or height is None:
        problems.append("its size cannot be read (no viewBox, no width/height)")
    elif abs(width - height) > 1e-6:
        problems.append(f"it is not square ({width:g} x {height:g}); BIMI logos are shown in a square or circle")
    return SvgVerdict(tuple(problems), (title.text or "").strip()[:100] if title is not None else "", width, height)
