// PCI DSS 3.3 / 3.5 scans for tests: anything in a file that looks like a card number or a
// card security code written out.

import fs from 'node:fs';
import path from 'node:path';

function luhn(digits) {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

/** Every Luhn-valid run of 13–19 digits that stands alone (no letter or digit around it). */
export function cardNumbers(buffer) {
  const text = buffer.toString('latin1');
  const found = [];
  for (const m of text.matchAll(/(?<![0-9A-Za-z])[0-9]{13,19}(?![0-9A-Za-z])/g)) {
    if (luhn(m[0])) found.push(m[0]);
  }
  return found;
}

/** `cvv`, `cvc` or `csc` (any case) written with 3 or 4 digits after it, as a log or JSON would. */
export function securityCodes(buffer) {
  const text = buffer.toString('latin1');
  return [...text.matchAll(/(?:cvv|cvc|csc)["':= ]{0,6}[0-9]{3,4}(?![0-9A-Za-z])/gi)].map((m) => m[0]);
}

/** Every regular file under `dir`, recursively. */
export function filesUnder(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(p));
    else if (entry.isFile()) out.push(p);
  }
  return out;
}
