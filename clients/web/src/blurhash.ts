// BlurHash decoding (https://blurha.sh): the media service stores one per image; shown as
// the placeholder while the right-sized variant loads.
//
// A hash is base83: one character of component counts (x: n % 9 + 1, y: n / 9 + 1), one
// of the AC components' maximum, four of the DC colour (sRGB), then two per AC component
// (three signed values quantised to 19 steps). Each pixel sums cosines of its position
// weighted by the components, in linear light.
const DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

function base83(text: string): number {
  let value = 0;
  for (const ch of text) {
    const digit = DIGITS.indexOf(ch);
    if (digit < 0) throw new Error("not a blurhash");
    value = value * 83 + digit;
  }
  return value;
}

function toLinear(value: number): number {
  const v = value / 255;
  return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
}

function toSrgb(value: number): number {
  const v = Math.max(0, Math.min(1, value));
  return Math.round(v <= 0.0031308 ? v * 12.92 * 255 : (1.055 * Math.pow(v, 1 / 2.4) - 0.055) * 255);
}

function signedPow(value: number, exp: number): number {
  return Math.sign(value) * Math.pow(Math.abs(value), exp);
}

/** RGBA pixels of `hash` at width × height. */
export function decode(hash: string, width: number, height: number, punch = 1): Uint8ClampedArray<ArrayBuffer> {
  const sizeFlag = base83(hash[0]);
  const nx = (sizeFlag % 9) + 1;
  const ny = Math.floor(sizeFlag / 9) + 1;
  if (hash.length !== 4 + 2 * nx * ny) throw new Error("blurhash has the wrong length");
  const maximum = ((base83(hash[1]) + 1) / 166) * punch;
  const colors: [number, number, number][] = [];
  const dc = base83(hash.slice(2, 6));
  colors.push([toLinear(dc >> 16), toLinear((dc >> 8) & 255), toLinear(dc & 255)]);
  for (let i = 1; i < nx * ny; i++) {
    const ac = base83(hash.slice(4 + i * 2, 6 + i * 2));
    const q = [Math.floor(ac / 361), Math.floor(ac / 19) % 19, ac % 19];
    colors.push(q.map((v) => signedPow((v - 9) / 9, 2) * maximum) as [number, number, number]);
  }
  const pixels = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0;
      for (let j = 0; j < ny; j++) {
        const cy = Math.cos((Math.PI * y * j) / height);
        for (let i = 0; i < nx; i++) {
          const basis = Math.cos((Math.PI * x * i) / width) * cy;
          const c = colors[i + j * nx];
          r += c[0] * basis; g += c[1] * basis; b += c[2] * basis;
        }
      }
      const at = 4 * (x + y * width);
      pixels[at] = toSrgb(r); pixels[at + 1] = toSrgb(g); pixels[at + 2] = toSrgb(b);
      pixels[at + 3] = 255;
    }
  }
  return pixels;
}

const cache = new Map<string, string>();

/** A data: URL of `hash` rendered small (the browser scales it up, which blurs it more);
 * empty when the hash is missing or invalid. */
export function placeholderUrl(hash: string): string {
  if (!hash) return "";
  const known = cache.get(hash);
  if (known !== undefined) return known;
  let url = "";
  try {
    const size = 32;
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = size;
    const context = canvas.getContext("2d");
    if (context) {
      context.putImageData(new ImageData(decode(hash, size, size), size, size), 0, 0);
      url = canvas.toDataURL();
    }
  } catch {
    url = "";
  }
  cache.set(hash, url);
  return url;
}
