//! The pages' colours meet WCAG 2.2 AA contrast (1.4.3: 4.5:1 for text; 1.4.11: 3:1 for focus
//! outlines and borders) in light and dark mode. The stylesheet sets `color-scheme: light dark`,
//! so the page background is the browser's canvas: white, or #121212 in Chromium's dark mode.
//! Colours are read from `static/shonin.css` itself, so a palette change that breaks the ratio
//! fails here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

const CSS: &str = include_str!("../static/shonin.css");
const LIGHT_CANVAS: &str = "#ffffff";
const DARK_CANVAS: &str = "#121212";

/// The custom properties declared in the first `:root { … }` after `from`.
fn palette(from: usize) -> Vec<(String, String)> {
    let start = CSS[from..].find(":root {").unwrap() + from;
    let end = CSS[start..].find('}').unwrap() + start;
    CSS[start + 7..end]
        .split(';')
        .filter_map(|d| d.trim().strip_prefix("--"))
        .filter_map(|d| d.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn colour(palette: &[(String, String)], light: &[(String, String)], name: &str) -> String {
    palette
        .iter()
        .chain(light)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("--{name} is not set"))
}

/// WCAG 2.2 relative luminance of `#rrggbb`.
fn luminance(hex: &str) -> f64 {
    let h = hex.trim_start_matches('#');
    assert_eq!(h.len(), 6, "{hex}");
    let channel = |i: usize| {
        let c = f64::from(u8::from_str_radix(&h[i..i + 2], 16).unwrap()) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4)
}

fn ratio(a: &str, b: &str) -> f64 {
    let (x, y) = (luminance(a), luminance(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

#[test]
fn text_and_outlines_meet_wcag_aa_in_light_and_dark_mode() {
    let light = palette(0);
    let dark_at = CSS
        .find("@media (prefers-color-scheme: dark)")
        .expect("a dark palette");
    let dark = palette(dark_at);
    for (mode, own, canvas) in [
        ("light", light.clone(), LIGHT_CANVAS),
        ("dark", dark, DARK_CANVAS),
    ] {
        let c = |name: &str| colour(&own, &light, name);
        // Text on the canvas: links, link buttons, errors.
        for name in ["link", "danger-text"] {
            let r = ratio(&c(name), canvas);
            assert!(r >= 4.5, "{mode}: --{name} on {canvas} is {r:.2}:1");
        }
        // White text on the buttons.
        for name in ["accent", "danger"] {
            let r = ratio("#ffffff", &c(name));
            assert!(r >= 4.5, "{mode}: white on --{name} is {r:.2}:1");
        }
    }
}

#[test]
fn the_check_can_fail() {
    // The old dark-mode colours: the accent and danger colours as text on the dark canvas.
    assert!(ratio("#0b5cad", DARK_CANVAS) < 3.0);
    assert!(ratio("#b00020", DARK_CANVAS) < 3.0);
    assert!((ratio("#000000", "#ffffff") - 21.0).abs() < 1e-9);
}

#[test]
fn text_colours_come_from_the_palette() {
    for rule in ["\n.error {", "\nbutton.link {", "\na {"] {
        let at = CSS.find(rule).unwrap_or_else(|| panic!("{rule}"));
        let body = &CSS[at..at + CSS[at..].find('}').unwrap()];
        assert!(
            body.contains("color: var(--link)") || body.contains("color: var(--danger-text)"),
            "{rule} {body}"
        );
    }
}
