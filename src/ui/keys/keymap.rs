//! Key bindings: the default keymap is `assets/keymap.toml` (embedded), a user file may patch it.
//!
//! The help overlay and the footer hints are generated from the loaded keymap, so what the
//! user reads is always what the keys do.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::Action;
use super::context::Context;

pub const DEFAULT_KEYMAP: &str = include_str!("../../../assets/keymap.toml");

/// The character a key types into a text field: a plain (or shifted) character key,
/// never a ctrl/alt chord, which stays a command.
pub fn typed_char(key: &KeyEvent) -> Option<char> {
    let KeyCode::Char(c) = key.code else {
        return None;
    };
    let chord = key
        .modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
    (!chord).then_some(c)
}

/// One key with its modifiers, normalised so that `G` and `shift-g` compare equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyBind {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl KeyBind {
    pub fn from_event(ev: &KeyEvent) -> Self {
        Self::normalised(ev.code, ev.modifiers)
    }

    fn normalised(code: KeyCode, mods: KeyModifiers) -> Self {
        let mut mods = mods & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        // Terminals report `G` as Char('G') + SHIFT; the character already carries the shift.
        if matches!(code, KeyCode::Char(_) | KeyCode::BackTab) {
            mods.remove(KeyModifiers::SHIFT);
        }
        Self { code, mods }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = s;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-").filter(|r| !r.is_empty()) {
                mods |= KeyModifiers::CONTROL;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-").filter(|r| !r.is_empty()) {
                mods |= KeyModifiers::ALT;
                rest = r;
            } else {
                break;
            }
        }
        let code = parse_code(rest).ok_or_else(|| format!("unknown key '{s}'"))?;
        Ok(Self::normalised(code, mods))
    }
}

fn parse_code(s: &str) -> Option<KeyCode> {
    let named = match s {
        "enter" => KeyCode::Enter,
        "esc" => KeyCode::Esc,
        "backspace" => KeyCode::Backspace,
        "tab" => KeyCode::Tab,
        "backtab" => KeyCode::BackTab,
        "space" => KeyCode::Char(' '),
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "pgup" => KeyCode::PageUp,
        "pgdn" => KeyCode::PageDown,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "delete" => KeyCode::Delete,
        "insert" => KeyCode::Insert,
        _ => {
            let mut chars = s.chars();
            return match (chars.next(), chars.next()) {
                (Some(c), None) => Some(KeyCode::Char(c)),
                _ => s
                    .strip_prefix('f')
                    .and_then(|n| n.parse::<u8>().ok())
                    .filter(|n| (1..=12).contains(n))
                    .map(KeyCode::F),
            };
        }
    };
    Some(named)
}

impl fmt::Display for KeyBind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("Ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("Alt-")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("Shift-")?;
        }
        // Plain ASCII names: fonts over SSH often lack arrow glyphs.
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Backspace => f.write_str("Bksp"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("BackTab"),
            KeyCode::Up => f.write_str("Up"),
            KeyCode::Down => f.write_str("Down"),
            KeyCode::Left => f.write_str("Left"),
            KeyCode::Right => f.write_str("Right"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::Delete => f.write_str("Del"),
            KeyCode::Insert => f.write_str("Ins"),
            KeyCode::F(n) => write!(f, "F{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// The loaded bindings: per context, actions in a stable order with their keys.
#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: HashMap<Context, Vec<(Action, Vec<KeyBind>)>>,
    lookup: HashMap<(Context, KeyBind), Action>,
    /// `[options] mouse`: clicks and the wheel (the keyboard does everything without them).
    pub mouse: bool,
}

/// The `[options]` section: settings that are not key bindings.
const OPTIONS: &str = "options";

type RawKeymap = HashMap<String, HashMap<String, Vec<String>>>;

/// Where the keymap in use came from, told once in the status pane at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeymapOrigin {
    /// No user file: the defaults.
    Defaults,
    /// The user's file patched the defaults.
    Loaded(PathBuf),
    /// The user's file could not be read or parsed; the defaults are in effect.
    Ignored { path: PathBuf, reason: String },
}

impl fmt::Display for KeymapOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Defaults => f.write_str("default keymap"),
            Self::Loaded(path) => write!(f, "keymap {} loaded", path.display()),
            Self::Ignored { path, reason } => {
                write!(f, "keymap {} ignored: {reason}", path.display())
            }
        }
    }
}

impl Keymap {
    /// The shipped defaults. They are tested to parse, so this cannot fail at run time.
    pub fn defaults() -> Self {
        Self::parse(DEFAULT_KEYMAP, None).unwrap_or_else(|_| Self::empty())
    }

    fn empty() -> Self {
        Self {
            bindings: HashMap::new(),
            lookup: HashMap::new(),
            mouse: true,
        }
    }

    /// Defaults patched by the user's file when there is one. A broken user file is reported
    /// and ignored: a typo must not lock an administrator out of the tool at 3 a.m.
    pub fn load() -> (Self, KeymapOrigin) {
        let Some(path) = user_keymap_path() else {
            return (Self::defaults(), KeymapOrigin::Defaults);
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return (Self::defaults(), KeymapOrigin::Defaults);
            }
            Err(e) => {
                let reason = e.to_string();
                return (Self::defaults(), KeymapOrigin::Ignored { path, reason });
            }
        };
        match Self::parse(DEFAULT_KEYMAP, Some(&text)) {
            Ok(k) => (k, KeymapOrigin::Loaded(path)),
            Err(reason) => (Self::defaults(), KeymapOrigin::Ignored { path, reason }),
        }
    }

    /// Parses the defaults and applies an optional user patch.
    pub fn parse(defaults: &str, user: Option<&str>) -> Result<Self, String> {
        let mut map = Self::empty();
        map.apply(defaults)?;
        if let Some(user) = user {
            map.apply(user)?;
        }
        map.rebuild_lookup();
        Ok(map)
    }

    fn apply(&mut self, text: &str) -> Result<(), String> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        if let Some(options) = table.remove(OPTIONS) {
            self.apply_options(options)?;
        }
        let raw: RawKeymap = table.try_into().map_err(|e| e.to_string())?;
        for (ctx_name, actions) in raw {
            let ctx =
                Context::parse(&ctx_name).ok_or_else(|| format!("unknown section [{ctx_name}]"))?;
            for (action_name, keys) in actions {
                let action = Action::from_name(&action_name)
                    .filter(|a| a.contexts().contains(&ctx))
                    .ok_or_else(|| format!("unknown action '{action_name}' in [{ctx_name}]"))?;
                let keys = keys
                    .iter()
                    .map(|k| KeyBind::parse(k))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("[{ctx_name}] {action_name}: {e}"))?;
                self.bind(ctx, action, keys);
            }
        }
        Ok(())
    }

    fn apply_options(&mut self, options: toml::Value) -> Result<(), String> {
        let toml::Value::Table(options) = options else {
            return Err(format!("[{OPTIONS}] must be a section"));
        };
        for (name, value) in options {
            match (name.as_str(), value) {
                ("mouse", toml::Value::Boolean(on)) => self.mouse = on,
                ("mouse", other) => {
                    return Err(format!(
                        "[{OPTIONS}] mouse must be true or false, not {other}"
                    ));
                }
                (other, _) => return Err(format!("unknown option '{other}' in [{OPTIONS}]")),
            }
        }
        Ok(())
    }

    /// Replaces the keys of `action` and takes those keys away from other actions.
    fn bind(&mut self, ctx: Context, action: Action, keys: Vec<KeyBind>) {
        let list = self.bindings.entry(ctx).or_default();
        for (_, other) in list.iter_mut() {
            other.retain(|k| !keys.contains(k));
        }
        match list.iter_mut().find(|(a, _)| *a == action) {
            Some((_, existing)) => *existing = keys,
            None => list.push((action, keys)),
        }
        list.sort_by_key(|(a, _)| a.order());
    }

    fn rebuild_lookup(&mut self) {
        self.lookup.clear();
        for (ctx, list) in &self.bindings {
            for (action, keys) in list {
                for key in keys {
                    self.lookup.insert((*ctx, *key), *action);
                }
            }
        }
    }

    /// The action for a key in `ctx`, falling back to the global bindings.
    pub fn action(&self, ctx: Context, key: &KeyEvent) -> Option<Action> {
        let bind = KeyBind::from_event(key);
        self.lookup
            .get(&(ctx, bind))
            .or_else(|| self.lookup.get(&(Context::Global, bind)))
            .copied()
    }

    /// Actions and keys of one context in display order (for help).
    pub fn bindings(&self, ctx: Context) -> &[(Action, Vec<KeyBind>)] {
        self.bindings.get(&ctx).map_or(&[], Vec::as_slice)
    }

    /// All keys of an action joined for display, e.g. `Enter/l/Right`; `None` when unbound.
    pub fn keys_label(&self, ctx: Context, action: Action) -> Option<String> {
        let (_, keys) = self.bindings(ctx).iter().find(|(a, _)| *a == action)?;
        if keys.is_empty() {
            return None;
        }
        Some(
            keys.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("/"),
        )
    }

    /// The first key of an action, for compact footer hints.
    pub fn first_key(&self, ctx: Context, action: Action) -> Option<KeyBind> {
        let ctxs = [ctx, Context::Global];
        ctxs.iter().find_map(|c| {
            self.bindings(*c)
                .iter()
                .find(|(a, _)| *a == action)
                .and_then(|(_, k)| k.first().copied())
        })
    }
}

/// `$XDG_CONFIG_HOME/pbs-mover/keymap.toml`, else `~/.config/pbs-mover/keymap.toml`.
pub fn user_keymap_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("pbs-mover").join("keymap.toml"))
}

#[cfg(test)]
mod tests {
    use strum::IntoEnumIterator;

    use super::*;

    #[test]
    fn keymap_origin_tells_loaded_from_ignored() {
        let path = PathBuf::from("/home/a/.config/pbs-mover/keymap.toml");
        let loaded = KeymapOrigin::Loaded(path.clone());
        assert_eq!(
            loaded.to_string(),
            "keymap /home/a/.config/pbs-mover/keymap.toml loaded"
        );
        let ignored = KeymapOrigin::Ignored {
            path,
            reason: "unknown section [tree2]".into(),
        };
        assert_eq!(
            ignored.to_string(),
            "keymap /home/a/.config/pbs-mover/keymap.toml ignored: unknown section [tree2]"
        );
    }

    fn key(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn text_fields_take_characters_but_not_chords() {
        let typed = |code, mods| typed_char(&key(code, mods));
        assert_eq!(typed(KeyCode::Char('a'), KeyModifiers::NONE), Some('a'));
        assert_eq!(typed(KeyCode::Char('A'), KeyModifiers::SHIFT), Some('A'));
        assert_eq!(typed(KeyCode::Char('a'), KeyModifiers::CONTROL), None);
        assert_eq!(typed(KeyCode::Char('x'), KeyModifiers::ALT), None);
        assert_eq!(typed(KeyCode::Enter, KeyModifiers::NONE), None);
    }

    #[test]
    fn defaults_parse_without_duplicates() {
        let map = Keymap::parse(DEFAULT_KEYMAP, None).unwrap();
        for ctx in Context::iter() {
            let mut seen = std::collections::HashSet::new();
            for (action, keys) in map.bindings(ctx) {
                for k in keys {
                    assert!(seen.insert(*k), "{k} bound twice in {ctx:?} ({action:?})");
                }
            }
        }
        assert_eq!(
            map.action(Context::Tree, &key(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
        assert_eq!(
            map.action(
                Context::Filter,
                &key(KeyCode::Char('c'), KeyModifiers::CONTROL)
            ),
            Some(Action::ForceQuit)
        );
        assert_eq!(
            map.action(
                Context::Filter,
                &key(KeyCode::Char('q'), KeyModifiers::NONE)
            ),
            None
        );
    }

    #[test]
    fn user_patch_rebinds_and_steals_keys() {
        let user = "[tree]\nquit = [\"x\"]\nhelp = [\"q\"]\n";
        let map = Keymap::parse(DEFAULT_KEYMAP, Some(user)).unwrap();
        let q = key(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(map.action(Context::Tree, &q), Some(Action::Help));
        let x = key(KeyCode::Char('x'), KeyModifiers::NONE);
        assert_eq!(map.action(Context::Tree, &x), Some(Action::Quit));
        assert_eq!(map.keys_label(Context::Tree, Action::Help).unwrap(), "q");
    }

    #[test]
    fn bad_user_files_are_rejected_with_a_reason() {
        for (text, needle) in [
            ("[tree]\nquit = [\"hyper-q\"]\n", "unknown key"),
            ("[tree]\nfly = [\"f\"]\n", "unknown action 'fly'"),
            ("[nowhere]\nquit = [\"q\"]\n", "unknown section"),
            (
                "[help]\nexpand = [\"l\"]\n",
                "unknown action 'expand' in [help]",
            ),
            ("[tree\n", "expected"),
        ] {
            let err = Keymap::parse(DEFAULT_KEYMAP, Some(text)).unwrap_err();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn options_switch_the_mouse_and_reject_typos() {
        assert!(Keymap::parse(DEFAULT_KEYMAP, None).unwrap().mouse);
        let off = Keymap::parse(DEFAULT_KEYMAP, Some("[options]\nmouse = false\n")).unwrap();
        assert!(!off.mouse);
        assert_eq!(
            off.action(Context::Tree, &key(KeyCode::Char('q'), KeyModifiers::NONE)),
            Some(Action::Quit),
            "options leave the keys alone"
        );
        for (text, needle) in [
            ("[options]\nmouse = \"no\"\n", "mouse must be true or false"),
            (
                "[options]\nmouse_wheel = true\n",
                "unknown option 'mouse_wheel'",
            ),
        ] {
            let err = Keymap::parse(DEFAULT_KEYMAP, Some(text)).unwrap_err();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn key_names_round_trip() {
        for (s, shown) in [
            ("ctrl-c", "Ctrl-c"),
            ("G", "G"),
            ("?", "?"),
            ("pgdn", "PgDn"),
            ("f1", "F1"),
            ("space", "Space"),
            ("alt-x", "Alt-x"),
            ("enter", "Enter"),
        ] {
            assert_eq!(KeyBind::parse(s).unwrap().to_string(), shown);
        }
    }
}
