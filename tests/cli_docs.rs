//! `statmgr completions SHELL` and `statmgr man`, generated from the clap definitions:
//! non-empty, naming the real subcommands and flags; the bash script is valid bash.

mod support;

use std::process::Command;

use support::*;

fn output(args: &[&str]) -> String {
    let out = Command::new(bin()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const SUBCOMMANDS: &[&str] = &["run", "status", "retry", "console", "check", "completions", "man"];

#[test]
fn completions_name_the_real_subcommands_and_bash_parses_them() {
    for shell in ["bash", "zsh", "fish"] {
        let text = output(&["completions", shell]);
        assert!(text.len() > 1000, "{shell}: {} bytes", text.len());
        for sub in SUBCOMMANDS {
            assert!(text.contains(sub), "{shell} completion lacks {sub}");
        }
        assert!(text.contains("log-format"), "{shell}: run's flags are there");
    }
    let tmp = tempdir();
    let script = tmp.path().join("statmgr.bash");
    std::fs::write(&script, output(&["completions", "bash"])).unwrap();
    let st = Command::new("bash").arg("-n").arg(&script).status().unwrap();
    assert!(st.success(), "bash -n rejects the completion script");
    // Loaded into bash, it completes the subcommands.
    let probe = format!(
        "source {}; COMP_WORDS=(statmgr ch); COMP_CWORD=1; _statmgr statmgr ch statmgr; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = Command::new("bash").arg("-c").arg(&probe).output().unwrap();
    let words = String::from_utf8_lossy(&out.stdout);
    assert!(
        words.lines().any(|w| w == "check"),
        "completing `statmgr ch`: {words:?}"
    );
    let bad = Command::new(bin())
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "an unknown shell is a usage error");
}

#[test]
fn the_man_page_is_roff_naming_the_commands() {
    let text = output(&["man"]);
    assert!(text.contains(".TH statmgr 1"), "{}", &text[..200.min(text.len())]);
    for sub in SUBCOMMANDS {
        assert!(text.contains(sub), "the man page lacks {sub}");
    }
    let tmp = tempdir();
    let dir = tmp.path().join("man1");
    output(&["man", "--dir", dir.to_str().unwrap()]);
    let run = std::fs::read_to_string(dir.join("statmgr-run.1")).expect("a page per command");
    assert!(run.contains("log\\-format"), "run's page documents its flags");
    assert!(dir.join("statmgr-check.1").exists());
}
