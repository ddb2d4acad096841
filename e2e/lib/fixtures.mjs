// Shared request data.

/**
 * One account_information entry (RFC 9396). The generic code-flow suites consent with the
 * button, over plain HTTP; a payment_initiation consent is signed with a passkey in Chromium
 * (test/transactions-browser.test.mjs), since the server refuses the button for payments.
 */
export const ACCESS = Object.freeze({
  type: 'account_information',
  actions: ['list_accounts', 'read_balances'],
  locations: ['https://api.bank.example/accounts'],
});

export const AUTHORIZATION_DETAILS = JSON.stringify([ACCESS]);

/** One payment_initiation entry with HTML metacharacters in a displayed field. */
export const PAYMENT = Object.freeze({
  type: 'payment_initiation',
  instructedAmount: { currency: 'EUR', amount: '12.34' },
  creditorName: 'Merchant & Co <script>',
  creditorAccount: { iban: 'DE89370400440532013000' },
  remittanceInformation: 'Invoice 4711',
});

/** Checks a consent page for the account access and the client. Returns a list of problems. */
export function consentPageProblems(html, { clientName }) {
  const problems = [];
  if (/<script/i.test(html)) problems.push('the page contains a raw "<script"');
  if (!html.includes('list_accounts, read_balances')) problems.push('the actions are not shown');
  if (!html.includes('https://api.bank.example/accounts')) problems.push('the location is not shown');
  if (!html.includes(clientName)) problems.push(`client name "${clientName}" not shown`);
  return problems;
}
