// QR codes of invitation links, for a party to scan with a phone (qrcode-generator, served by
// the server from node_modules: no CDN).

import qrcode from "/vendor/qrcode.mjs";

const cache = new Map();

/** An SVG of `link` (error correction M: survives a smudged or glare-hit screen), or "". */
export function qrSvg(link, title) {
  const key = `${title}\n${link}`;
  if (!cache.has(key)) {
    let svg = "";
    try {
      const qr = qrcode(0, "M");
      qr.addData(link);
      qr.make();
      svg = qr.createSvgTag({
        cellSize: 4,
        margin: 16,
        scalable: true,
        title: { text: title, id: `qr-title-${cache.size + 1}` },
      });
    } catch (err) {
      console.error("qr code:", err);
    }
    cache.set(key, svg);
  }
  return cache.get(key);
}
