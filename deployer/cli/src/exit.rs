//! The deployer's exit codes, the same for every command (docs/deploying.md, "Exit codes").

/// Something to review was found: `diff` has changes, `policy diff` has findings at its `--fail-on`
/// level, `synth --check` found a stale snapshot. (Until 2026-12, `policy diff` and `synth --check`
/// used 3.)
pub const CHANGES: u8 = 2;

/// The user answered "no" at an approval prompt: nothing was changed where they declined.
pub const CANCELLED: u8 = 4;

/// Interrupted with Ctrl-C (128 + SIGINT, as shells report it).
pub const INTERRUPTED: u8 = 130;
