//! The languages of the pages: English and Japanese, every string each page shows
//! ([`Texts`]), and the choice of language: the `__Host-shonin_lang` cookie (set by the switcher
//! on every page), else the best `Accept-Language` match (RFC 9110 §12.5.4), else English.
//! Pure: the server reads the cookie and the header and asks [`Lang::choose`].

pub const LANG_COOKIE: &str = "__Host-shonin_lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ja => "ja",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "en" => Some(Self::En),
            "ja" => Some(Self::Ja),
            _ => None,
        }
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Self::En => &EN,
            Self::Ja => &JA,
        }
    }

    /// The language of a request whose language cookie is `cookie` and whose
    /// `Accept-Language` is `accept_language`.
    pub fn choose(cookie: Option<&str>, accept_language: Option<&str>) -> Self {
        if let Some(lang) = cookie.and_then(Self::from_code) {
            return lang;
        }
        accept_language.map_or(Self::En, Self::negotiate)
    }

    /// The supported language with the highest `q` in an `Accept-Language` value; ties go to
    /// the earlier entry.
    pub fn negotiate(accept: &str) -> Self {
        let mut best: Option<(Self, u16)> = None;
        for item in accept.split(',').take(32) {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
                .map_or(1000, |q| parse_q(&q));
            let primary = tag.split('-').next().unwrap_or_default();
            let Some(lang) = Self::from_code(primary) else {
                continue;
            };
            if q > 0 && best.is_none_or(|(_, bq)| q > bq) {
                best = Some((lang, q));
            }
        }
        best.map_or(Self::En, |(l, _)| l)
    }

    /// The `Set-Cookie` value for the switcher (a year; not a secret, but `__Host-` keeps it to
    /// the issuer's origin).
    pub fn cookie_value(self) -> String {
        format!(
            "{LANG_COOKIE}={}; Path=/; Secure; SameSite=Lax; Max-Age=31536000",
            self.code()
        )
    }
}

/// `q` as thousandths (RFC 9110 §12.4.2: at most three decimals); malformed counts as 0.
fn parse_q(q: &str) -> u16 {
    let (int, frac) = q.split_once('.').unwrap_or((q, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    let frac_val = format!("{frac:0<3}").parse::<u16>().unwrap_or(0);
    match int {
        "0" => frac_val,
        "1" if frac_val == 0 => 1000,
        _ => 0,
    }
}

/// Every string the pages show.
#[derive(Debug)]
pub struct Texts {
    pub language_label: &'static str,
    pub sign_in_title: &'static str,
    pub sign_in_asks: &'static str,
    pub sign_in_passkey: &'static str,
    pub sign_in_or_password: &'static str,
    pub sign_in_step_up: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub sign_in_button: &'static str,
    pub invalid_credentials: &'static str,
    pub passkey_failed: &'static str,
    pub passkey_unsupported: &'static str,
    pub consent_title: &'static str,
    pub consent_asks: &'static str,
    pub consent_as: &'static str,
    pub permissions: &'static str,
    pub approve: &'static str,
    pub deny: &'static str,
    pub error_title: &'static str,
    pub error_cannot_continue: &'static str,
    pub error_go_back: &'static str,
    pub reference: &'static str,
    pub detail_payment: &'static str,
    pub detail_account_access: &'static str,
    pub detail_amount: &'static str,
    pub detail_payee: &'static str,
    pub detail_payee_account: &'static str,
    pub detail_reference: &'static str,
    pub detail_actions: &'static str,
    pub detail_where: &'static str,
    pub detail_details: &'static str,
    pub account_title: &'static str,
    pub account_sign_in_lead: &'static str,
    pub signed_in_as: &'static str,
    pub passkeys: &'static str,
    pub no_passkeys: &'static str,
    pub col_name: &'static str,
    pub col_provider: &'static str,
    pub col_created: &'static str,
    pub col_last_used: &'static str,
    pub col_kind: &'static str,
    pub never: &'static str,
    pub synced: &'static str,
    pub device_bound: &'static str,
    pub unknown_provider: &'static str,
    pub rename: &'static str,
    pub remove: &'static str,
    pub add_passkey: &'static str,
    pub new_passkey_name: &'static str,
    pub default_passkey_name: &'static str,
    pub confirm_title: &'static str,
    pub confirm_lead: &'static str,
    pub confirm_with_passkey: &'static str,
    pub confirm_with_password: &'static str,
    pub passkey_only_title: &'static str,
    pub passkey_only_on: &'static str,
    pub passkey_only_off: &'static str,
    pub passkey_only_global: &'static str,
    pub turn_on: &'static str,
    pub turn_off: &'static str,
    pub sign_out: &'static str,
    pub notice_added: &'static str,
    pub notice_renamed: &'static str,
    pub notice_removed: &'static str,
    pub notice_policy: &'static str,
    pub error_reauth: &'static str,
    pub error_not_found: &'static str,
    pub error_name: &'static str,
    pub error_last_passkey: &'static str,
    pub enrol_failed: &'static str,
    pub recovery_title: &'static str,
    pub recovery_lead: &'static str,
    pub recovery_unused: &'static str,
    pub recovery_generate: &'static str,
    pub recovery_shown_once: &'static str,
    pub recovery_done: &'static str,
    pub recovery_sign_in: &'static str,
    pub recovery_code: &'static str,
    pub recovery_invalid: &'static str,
    pub password_title: &'static str,
    pub new_password: &'static str,
    pub confirm_password: &'static str,
    pub change_password: &'static str,
    pub notice_password: &'static str,
    pub error_password_mismatch: &'static str,
    pub error_password_rule: &'static str,
    pub approve_title: &'static str,
    pub approve_asks: &'static str,
    pub approve_signs: &'static str,
    pub approve_reference: &'static str,
    pub approve_deadline: &'static str,
    pub approve_with_passkey: &'static str,
    pub approve_failed: &'static str,
    /// After a refused approval, with `{n}` (2 or more) attempts left.
    pub approve_attempts_left: &'static str,
    /// After a refused approval, with one attempt left.
    pub approve_last_attempt: &'static str,
    pub txn_approved: &'static str,
    pub txn_rejected: &'static str,
    pub txn_expired: &'static str,
    pub txn_locked: &'static str,
    pub txn_executed: &'static str,
    pub txn_not_found: &'static str,
    /// The CIBA approval page (`/ciba/{id}`).
    pub ciba_title: &'static str,
    pub ciba_asks: &'static str,
    pub ciba_binding: &'static str,
    pub ciba_approved: &'static str,
    pub ciba_denied: &'static str,
    pub ciba_expired: &'static str,
    pub ciba_not_found: &'static str,
    pub acs_title: &'static str,
    pub acs_intro: &'static str,
    pub acs_passkey_signs: &'static str,
    pub acs_merchant: &'static str,
    pub acs_card: &'static str,
    pub acs_no_payment: &'static str,
    pub acs_confirm: &'static str,
    pub acs_cancel: &'static str,
    pub acs_no_passkey: &'static str,
    pub acs_failed: &'static str,
    pub acs_returning: &'static str,
    /// The 3DS Server's notification page, in the merchant's challenge iframe.
    pub threeds_done_title: &'static str,
    pub threeds_done: &'static str,
    pub acs_invalid: &'static str,
    pub acs_code_intro: &'static str,
    pub acs_code_label: &'static str,
    pub acs_code_submit: &'static str,
    pub acs_resend: &'static str,
    pub acs_code_sent: &'static str,
    pub acs_code_failed: &'static str,
    pub hf_title: &'static str,
    pub hf_number: &'static str,
    pub hf_expiry: &'static str,
    pub hf_month: &'static str,
    pub hf_year: &'static str,
    pub hf_name: &'static str,
    pub hf_cvv: &'static str,
    pub hf_submit: &'static str,
    pub hf_saved: &'static str,
    /// Before the server's reason.
    pub hf_failed: &'static str,
    pub hf_expired: &'static str,
}

pub static EN: Texts = Texts {
    language_label: "Language",
    sign_in_title: "Sign in",
    sign_in_asks: "asks you to sign in.",
    sign_in_passkey: "Sign in with a passkey",
    sign_in_or_password: "Or sign in with your password",
    sign_in_step_up: "This request needs a passkey. Sign in with your passkey to continue.",
    username: "Username",
    password: "Password",
    sign_in_button: "Sign in",
    invalid_credentials: "Invalid username or password.",
    passkey_failed: "Sign-in with a passkey failed. Try again or use another method.",
    passkey_unsupported: "This browser cannot use passkeys.",
    consent_title: "Approve access",
    consent_asks: "asks for access as",
    consent_as: "",
    permissions: "Permissions",
    approve: "Approve",
    deny: "Deny",
    error_title: "Request refused",
    error_cannot_continue: "This request cannot continue",
    error_go_back: "Go back to the application you came from and start again.",
    reference: "Reference",
    detail_payment: "Payment",
    detail_account_access: "Account access",
    detail_amount: "Amount",
    detail_payee: "Payee",
    detail_payee_account: "Payee account",
    detail_reference: "Reference",
    detail_actions: "Actions",
    detail_where: "Where",
    detail_details: "Details",
    account_title: "Your account",
    account_sign_in_lead: "Sign in to manage your passkeys.",
    signed_in_as: "Signed in as",
    passkeys: "Passkeys",
    no_passkeys: "You have no passkeys yet.",
    col_name: "Name",
    col_provider: "Provider",
    col_created: "Created",
    col_last_used: "Last used",
    col_kind: "Kind",
    never: "never",
    synced: "synced",
    device_bound: "device-bound",
    unknown_provider: "unknown",
    rename: "Rename",
    remove: "Remove",
    add_passkey: "Add a passkey",
    new_passkey_name: "Name for the new passkey",
    default_passkey_name: "My passkey",
    confirm_title: "Confirm it is you",
    confirm_lead: "Adding or removing a sign-in method needs a sign-in from the last 5 minutes.",
    confirm_with_passkey: "Confirm with a passkey",
    confirm_with_password: "Confirm with your password",
    passkey_only_title: "Passkey only",
    passkey_only_on: "Your password no longer works: only your passkeys sign you in.",
    passkey_only_off: "Your password still works beside your passkeys.",
    passkey_only_global: "This service accepts only passkeys for accounts that have one.",
    turn_on: "Turn on",
    turn_off: "Turn off",
    sign_out: "Sign out",
    notice_added: "The passkey was added.",
    notice_renamed: "The passkey was renamed.",
    notice_removed: "The passkey was removed.",
    notice_policy: "Your sign-in policy was changed.",
    error_reauth: "Confirm it is you first: sign in again with your strongest method.",
    error_not_found: "That passkey does not exist.",
    error_name: "A passkey name must be 1 to 64 characters, without control characters.",
    error_last_passkey: "Passkey only is on: keep at least one passkey, or turn it off first.",
    enrol_failed: "The passkey could not be added. Try again.",
    recovery_title: "Recovery codes",
    recovery_lead: "Use one of these if you lose your passkeys. Each code works once.",
    recovery_unused: "Unused codes:",
    recovery_generate: "Generate new recovery codes",
    recovery_shown_once: "Write these codes down now: they will not be shown again. Any older codes no longer work.",
    recovery_done: "Back to your account",
    recovery_sign_in: "Lost your passkey? Sign in with a recovery code",
    recovery_code: "Recovery code",
    recovery_invalid: "Invalid username or recovery code.",
    password_title: "Password",
    new_password: "New password (12 to 256 characters)",
    confirm_password: "New password again",
    change_password: "Change password",
    notice_password: "Your password was changed.",
    error_password_mismatch: "The two new passwords differ.",
    error_password_rule: "A password must be 12 to 256 characters.",
    approve_title: "Approve a payment",
    approve_asks: "asks you to approve this payment.",
    approve_signs: "Your passkey signs exactly the payee, account, amount and reference shown here. If any of them changes, the signature is no longer valid.",
    approve_reference: "Reference",
    approve_deadline: "Approve before",
    approve_with_passkey: "Approve with passkey",
    approve_failed: "The approval failed. Check the details and try again.",
    approve_attempts_left: "The approval failed. Attempts left before this payment is locked: {n}.",
    approve_last_attempt: "The approval failed. One attempt is left: if it fails too, this payment is locked.",
    txn_approved: "This payment is approved.",
    txn_rejected: "This payment was rejected.",
    txn_expired: "The time to approve this payment has passed.",
    txn_locked: "Too many failed attempts: this payment is locked.",
    txn_executed: "This payment has been made.",
    txn_not_found: "There is no such payment to approve.",
    ciba_title: "Approve a request",
    ciba_asks: "asks you to approve this request from another device.",
    ciba_binding: "Go on only if this message matches the one shown where you started:",
    ciba_approved: "Approved. You can go back to where you started.",
    ciba_denied: "Denied. Nothing was shared.",
    ciba_expired: "This request has expired. Start again where you began.",
    ciba_not_found: "There is no such request to approve.",
    acs_title: "Confirm your purchase",
    acs_intro: "Your card issuer asks you to confirm this purchase.",
    acs_passkey_signs: "Your passkey signs exactly the merchant and amount shown here.",
    acs_merchant: "Merchant",
    acs_card: "Card",
    acs_no_payment: "No payment (card verification)",
    acs_confirm: "Confirm with passkey",
    acs_cancel: "Cancel",
    acs_no_passkey: "No passkey is registered for this card. The purchase cannot be confirmed here; cancel and contact your card issuer.",
    acs_failed: "The passkey did not confirm the purchase. Attempts left: {n}.",
    acs_returning: "Returning to the merchant…",
    threeds_done_title: "Card check finished",
    threeds_done: "The card check is finished. The checkout continues on its own.",
    acs_invalid: "This authentication request is not valid or has already been used.",
    acs_code_intro: "We sent a one-time code to your phone. Enter it to confirm this purchase.",
    acs_code_label: "One-time code",
    acs_code_submit: "Confirm",
    acs_resend: "Send a new code",
    acs_code_sent: "A new code is on its way; the earlier one no longer works.",
    acs_code_failed: "The code is not right. Attempts left: {n}.",
    hf_title: "Card details",
    hf_number: "Card number",
    hf_expiry: "Expiry date",
    hf_month: "Month (MM)",
    hf_year: "Year (YYYY)",
    hf_name: "Name on card",
    hf_cvv: "Security code",
    hf_submit: "Use this card",
    hf_saved: "Card details received.",
    hf_failed: "The card was not accepted: ",
    hf_expired: "This card form has expired. Reload the page to start again.",
};

pub static JA: Texts = Texts {
    language_label: "言語",
    sign_in_title: "サインイン",
    sign_in_asks: "がサインインを求めています。",
    sign_in_passkey: "パスキーでサインイン",
    sign_in_or_password: "またはパスワードでサインイン",
    sign_in_step_up: "この要求にはパスキーが必要です。パスキーでサインインしてください。",
    username: "ユーザー名",
    password: "パスワード",
    sign_in_button: "サインイン",
    invalid_credentials: "ユーザー名またはパスワードが正しくありません。",
    passkey_failed: "パスキーでのサインインに失敗しました。もう一度お試しいただくか、別の方法をご利用ください。",
    passkey_unsupported: "このブラウザではパスキーを利用できません。",
    consent_title: "アクセスの承認",
    consent_asks: "が次のユーザーとしてのアクセスを求めています：",
    consent_as: "",
    permissions: "権限",
    approve: "承認する",
    deny: "拒否する",
    error_title: "要求は拒否されました",
    error_cannot_continue: "この要求を続行できません",
    error_go_back: "元のアプリケーションに戻り、最初からやり直してください。",
    reference: "参照番号",
    detail_payment: "支払い",
    detail_account_access: "口座へのアクセス",
    detail_amount: "金額",
    detail_payee: "受取人",
    detail_payee_account: "受取人口座",
    detail_reference: "摘要",
    detail_actions: "操作",
    detail_where: "対象",
    detail_details: "詳細",
    account_title: "アカウント",
    account_sign_in_lead: "パスキーを管理するにはサインインしてください。",
    signed_in_as: "サインイン中のユーザー",
    passkeys: "パスキー",
    no_passkeys: "パスキーはまだ登録されていません。",
    col_name: "名前",
    col_provider: "提供元",
    col_created: "登録日時",
    col_last_used: "最終使用日時",
    col_kind: "種類",
    never: "未使用",
    synced: "同期型",
    device_bound: "デバイス固定",
    unknown_provider: "不明",
    rename: "名前を変更",
    remove: "削除",
    add_passkey: "パスキーを追加",
    new_passkey_name: "新しいパスキーの名前",
    default_passkey_name: "マイパスキー",
    confirm_title: "本人確認",
    confirm_lead: "サインイン方法の追加や削除には、5分以内のサインインが必要です。",
    confirm_with_passkey: "パスキーで本人確認",
    confirm_with_password: "パスワードで本人確認",
    passkey_only_title: "パスキーのみ",
    passkey_only_on: "パスワードは無効です。パスキーでのみサインインできます。",
    passkey_only_off: "パスキーに加えてパスワードも利用できます。",
    passkey_only_global: "このサービスでは、パスキーを登録したアカウントはパスキーでのみサインインできます。",
    turn_on: "有効にする",
    turn_off: "無効にする",
    sign_out: "サインアウト",
    notice_added: "パスキーを追加しました。",
    notice_renamed: "パスキーの名前を変更しました。",
    notice_removed: "パスキーを削除しました。",
    notice_policy: "サインインの設定を変更しました。",
    error_reauth: "まず本人確認をしてください。最も強い方法でもう一度サインインしてください。",
    error_not_found: "そのパスキーは存在しません。",
    error_name: "パスキーの名前は1〜64文字で、制御文字を含めないでください。",
    error_last_passkey: "パスキーのみが有効です。パスキーを1つ以上残すか、先に設定を無効にしてください。",
    enrol_failed: "パスキーを追加できませんでした。もう一度お試しください。",
    recovery_title: "リカバリーコード",
    recovery_lead: "パスキーを失くしたときに使います。各コードは1回だけ使えます。",
    recovery_unused: "未使用のコード：",
    recovery_generate: "新しいリカバリーコードを生成",
    recovery_shown_once: "これらのコードを今すぐ控えてください。再表示はされません。以前のコードは無効になりました。",
    recovery_done: "アカウントに戻る",
    recovery_sign_in: "パスキーを失くした場合：リカバリーコードでサインイン",
    recovery_code: "リカバリーコード",
    recovery_invalid: "ユーザー名またはリカバリーコードが正しくありません。",
    password_title: "パスワード",
    new_password: "新しいパスワード（12〜256文字）",
    confirm_password: "新しいパスワード（確認）",
    change_password: "パスワードを変更",
    notice_password: "パスワードを変更しました。",
    error_password_mismatch: "新しいパスワードが一致しません。",
    error_password_rule: "パスワードは12〜256文字にしてください。",
    approve_title: "支払いの承認",
    approve_asks: "がこの支払いの承認を求めています。",
    approve_signs: "パスキーは、ここに表示された受取人・口座・金額・参照情報そのものに署名します。どれか一つでも変わると、署名は無効になります。",
    approve_reference: "参照情報",
    approve_deadline: "承認期限",
    approve_with_passkey: "パスキーで承認する",
    approve_failed: "承認できませんでした。内容を確認して、もう一度お試しください。",
    approve_attempts_left: "承認できませんでした。この支払いがロックされるまで、あと{n}回試せます。",
    approve_last_attempt: "承認できませんでした。残りは1回です。次も失敗すると、この支払いはロックされます。",
    txn_approved: "この支払いは承認されました。",
    txn_rejected: "この支払いは拒否されました。",
    txn_expired: "この支払いの承認期限が過ぎました。",
    txn_locked: "失敗が多すぎるため、この支払いはロックされました。",
    txn_executed: "この支払いは実行されました。",
    txn_not_found: "承認する支払いが見つかりません。",
    ciba_title: "リクエストの承認",
    ciba_asks: "が、別のデバイスからのこのリクエストの承認を求めています。",
    ciba_binding: "操作を始めた画面に表示されたメッセージと一致する場合にのみ進んでください：",
    ciba_approved: "承認しました。操作を始めた画面に戻ってください。",
    ciba_denied: "拒否しました。何も共有されていません。",
    ciba_expired: "このリクエストは期限切れです。最初からやり直してください。",
    ciba_not_found: "承認するリクエストが見つかりません。",
    acs_title: "ご購入の確認",
    acs_intro: "カード発行会社がこのご購入の確認を求めています。",
    acs_passkey_signs: "パスキーは、ここに表示された加盟店と金額そのものに署名します。",
    acs_merchant: "加盟店",
    acs_card: "カード",
    acs_no_payment: "支払いなし（カードの確認）",
    acs_confirm: "パスキーで確認",
    acs_cancel: "キャンセル",
    acs_no_passkey: "このカードにはパスキーが登録されていません。ここでは確認できないため、キャンセルしてカード発行会社にお問い合わせください。",
    acs_failed: "パスキーで確認できませんでした。残り{n}回試せます。",
    acs_returning: "加盟店に戻ります…",
    threeds_done_title: "カード認証が完了しました",
    threeds_done: "カード認証が完了しました。お支払い画面がこのまま続きます。",
    acs_invalid: "この認証リクエストは無効か、すでに使用されています。",
    acs_code_intro: "お使いの電話にワンタイムコードを送りました。入力してこのご購入を確認してください。",
    acs_code_label: "ワンタイムコード",
    acs_code_submit: "確認",
    acs_resend: "新しいコードを送る",
    acs_code_sent: "新しいコードを送りました。以前のコードは使えません。",
    acs_code_failed: "コードが正しくありません。残り{n}回試せます。",
    hf_title: "カード情報",
    hf_number: "カード番号",
    hf_expiry: "有効期限",
    hf_month: "月（MM）",
    hf_year: "年（YYYY）",
    hf_name: "カード名義",
    hf_cvv: "セキュリティコード",
    hf_submit: "このカードを使う",
    hf_saved: "カード情報を受け付けました。",
    hf_failed: "カードを受け付けられませんでした：",
    hf_expired: "このカード入力フォームは期限切れです。ページを再読み込みしてやり直してください。",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_negotiation() {
        assert_eq!(Lang::negotiate("ja-JP,ja;q=0.9,en;q=0.8"), Lang::Ja);
        assert_eq!(Lang::negotiate("en-US,ja;q=0.5"), Lang::En);
        assert_eq!(Lang::negotiate("fr, ja;q=0.3, en;q=0.2"), Lang::Ja);
        assert_eq!(Lang::negotiate("ja;q=0"), Lang::En);
        assert_eq!(Lang::negotiate("ja;q=2, en;q=0.1"), Lang::En);
        assert_eq!(Lang::negotiate(""), Lang::En);
        assert_eq!(parse_q("0.5"), 500);
        assert_eq!(parse_q("1.000"), 1000);
        assert_eq!(parse_q("0.1234"), 0);
    }

    #[test]
    fn the_cookie_wins_over_the_header() {
        assert_eq!(Lang::choose(Some("ja"), Some("en")), Lang::Ja);
        assert_eq!(Lang::choose(Some("fr"), Some("ja")), Lang::Ja);
        assert_eq!(Lang::choose(None, None), Lang::En);
        assert!(
            Lang::Ja
                .cookie_value()
                .starts_with("__Host-shonin_lang=ja;")
        );
    }
}
