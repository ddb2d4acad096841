// Shared request data.

/** One payment_initiation entry (RFC 9396) with HTML metacharacters in a displayed field. */
export const PAYMENT = Object.freeze({
  type: 'payment_initiation',
  instructedAmount: { currency: 'EUR', amount: '12.34' },
  creditorName: 'Merchant & Co <script>',
  creditorAccount: { iban: 'DE89370400440532013000' },
  remittanceInformation: 'Invoice 4711',
});

export const AUTHORIZATION_DETAILS = JSON.stringify([PAYMENT]);

/** Checks a consent page for the payment, rendered escaped. Returns a list of problems. */
export function consentPageProblems(html, { clientName }) {
  const problems = [];
  // `&lt;` and the numeric forms (`&#60;`, `&#x3c;`) are equally correct escapes.
  if (!/Merchant (?:&amp;|&#38;|&#x26;) Co (?:&lt;|&#60;|&#x3c;)script(?:&gt;|&#62;|&#x3e;)/i.test(html)) {
    problems.push('creditorName is not shown HTML-escaped (expected "Merchant &amp; Co &lt;script&gt;")');
  }
  if (/<script/i.test(html)) problems.push('the page contains a raw "<script" (creditorName not escaped?)');
  if (!html.includes('12.34')) problems.push('amount 12.34 not shown');
  if (!html.includes('EUR')) problems.push('currency EUR not shown');
  if (!html.replace(/\s/g, '').includes('DE89370400440532013000')) problems.push('creditor IBAN not shown');
  if (!html.includes(clientName)) problems.push(`client name "${clientName}" not shown`);
  return problems;
}
