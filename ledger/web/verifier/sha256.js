// SHA-256 through WebCrypto (crypto.subtle.digest): the browser's, or node's globalThis.crypto.
// No JavaScript hash code of our own or of a third party.

import { concat } from "./bytes.js";

function subtle() {
  const s = globalThis.crypto && globalThis.crypto.subtle;
  if (!s) {
    throw new Error("WebCrypto (crypto.subtle) is not available: open the page from https:// or " +
                    "file://, in a current browser");
  }
  return s;
}

/** SHA-256 of the concatenation of the given byte arrays. */
export async function sha256(...parts) {
  const data = parts.length === 1 ? parts[0] : concat(...parts);
  return new Uint8Array(await subtle().digest("SHA-256", data));
}
