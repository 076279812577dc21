"""Draw the PWA icons (run once; the PNGs are committed). Needs a CJK font (Debian: fonts-noto-cjk)."""
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

OUT = Path(__file__).resolve().parent.parent / "static" / "icons"
FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
BLUE = (23, 105, 224)


def draw(size: int, maskable: bool) -> Image.Image:
    img = Image.new("RGB", (size, size), BLUE if maskable else (255, 255, 255))
    d = ImageDraw.Draw(img)
    if not maskable:
        img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
        d = ImageDraw.Draw(img)
        d.rounded_rectangle([0, 0, size - 1, size - 1], radius=size // 5, fill=BLUE)
    # Maskable icons keep their content inside the central 80 % safe zone.
    glyph = int(size * (0.46 if maskable else 0.58))
    font = ImageFont.truetype(FONT, glyph)
    d.text((size / 2, size / 2), "证", font=font, fill="white", anchor="mm")
    return img


OUT.mkdir(parents=True, exist_ok=True)
for size in (192, 512):
    draw(size, False).save(OUT / f"icon-{size}.png", optimize=True)
draw(512, True).save(OUT / "icon-maskable-512.png", optimize=True)
draw(180, True).convert("RGB").save(OUT / "apple-touch-icon.png", optimize=True)
print("icons written to", OUT)
