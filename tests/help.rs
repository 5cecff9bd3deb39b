//! Every tool explains itself: --help with examples, --version, completions and man pages.

use kpipes_e2e::*;

const TOOLS: [&str; 4] = ["kcluster", "ktopic", "kprod", "kcons"];

fn plain(name: &str) -> assert_cmd::Command {
    assert_cmd::Command::new(bin_path(name))
}

#[test]
fn help_has_examples_and_version_prints() {
    for tool in TOOLS {
        let help = run(plain(tool).arg("--help")).success().stdout();
        assert!(
            help.contains("Examples:"),
            "{tool} --help has no examples:\n{help}"
        );
        let version = run(plain(tool).arg("--version")).success().stdout();
        assert!(
            version.starts_with(&format!("{tool} ")),
            "{tool} --version: {version}"
        );
    }
    for (tool, sub) in [("kcluster", "up"), ("kcluster", "kill")] {
        let help = run(plain(tool).args([sub, "--help"])).success().stdout();
        assert!(
            help.contains("Examples:"),
            "{tool} {sub} --help has no examples:\n{help}"
        );
    }
    // ktopic: the README's first example, and two or more for every command.
    let help = run(plain("ktopic").arg("--help")).success().stdout();
    assert!(help.contains("ktopic create my-topic -p 2 -r 3"), "{help}");
    for command in [
        "create",
        "describe",
        "list",
        "delete",
        "partitions",
        "config",
        "offsets",
    ] {
        let help = run(plain("ktopic").args([command, "--help"]))
            .success()
            .stdout();
        assert!(
            help.contains("Examples:") && help.matches(&format!("ktopic {command}")).count() >= 2,
            "2+ examples for ktopic {command}:\n{help}"
        );
    }
}

#[test]
fn bash_completion_script_works_when_sourced() {
    let dir = tempfile::tempdir().unwrap();
    for tool in TOOLS {
        let script = run(plain(tool).args(["--generate", "bash"]))
            .success()
            .stdout();
        let path = dir.path().join(tool);
        std::fs::write(&path, script).unwrap();
        // Source it, then ask the completion function what follows `TOOL --he`.
        let probe = format!(
            "source {path}; COMP_WORDS=({tool} --he); COMP_CWORD=1; COMP_LINE='{tool} --he'; COMP_POINT=${{#COMP_LINE}}; \
             $(complete -p {tool} | sed -E 's/.*-F ([^ ]+).*/\\1/') {tool} --he {tool}; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            path = path.display()
        );
        let ran = run(assert_cmd::Command::new("bash").args(["--norc", "-c", &probe]));
        let ran = ran.success();
        assert!(
            ran.stdout().lines().any(|l| l == "--help"),
            "{tool}: completion of --he offers no --help:\n{}",
            ran.stdout()
        );
    }
}

#[test]
fn man_pages_and_other_shells_generate() {
    for tool in TOOLS {
        let man = run(plain(tool).args(["--generate", "man"]))
            .success()
            .stdout();
        assert!(
            man.starts_with(".ie") || man.contains(".TH"),
            "{tool} man page:\n{man}"
        );
        assert!(man.contains(tool));
        for shell in ["zsh", "fish"] {
            let script = run(plain(tool).args(["--generate", shell]))
                .success()
                .stdout();
            assert!(script.contains(tool), "{tool} {shell} completions");
        }
    }
    run(plain("kprod").args(["--generate", "tcsh"])).code_is(2);
}

#[test]
fn tools_find_the_running_cluster_without_flags() {
    needs_cluster!();
    // No -b, no KAFKA_BROKERS: the cluster kcluster runs (named by KPIPES_CLUSTER) is used.
    let mut cmd = plain("ktopic");
    cmd.arg("list")
        .env_remove("KAFKA_BROKERS")
        .env("KPIPES_CLUSTER", test_cluster());
    run(&mut cmd).success();
    // And a flag beats the environment.
    let mut cmd = plain("ktopic");
    cmd.args(["list", "-b", "localhost:1", "--timeout", "1"])
        .env("KAFKA_BROKERS", brokers());
    run(&mut cmd).code_is(5).stderr_has("localhost:1");
}

#[test]
fn errors_are_coloured_only_on_a_terminal_and_never_with_no_color() {
    // Not a terminal here: plain prefix.
    run(plain("kprod").args(["-X", "bad", "t"]))
        .code_is(2)
        .stderr_has("kprod: error: ");
    // On a terminal (script(1) gives one), red unless NO_COLOR is set.
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        return;
    }
    let kprod = bin_path("kprod");
    let typed = |no_color: bool| {
        let mut cmd = assert_cmd::Command::new("script");
        cmd.args([
            "-qec",
            &format!("{} -X bad t", kprod.display()),
            "/dev/null",
        ]);
        if no_color {
            cmd.env("NO_COLOR", "1");
        } else {
            cmd.env_remove("NO_COLOR");
        }
        run(&mut cmd).stdout()
    };
    assert!(
        typed(false).contains("\x1b[1;31merror"),
        "no colour on a terminal"
    );
    assert!(!typed(true).contains("\x1b["), "colour despite NO_COLOR");
}

#[test]
fn typos_get_clap_s_suggestion_on_the_one_error_line() {
    for (tool, args, hint) in [
        ("kcons", vec!["--exti", "t"], "did you mean '--exit'?"),
        ("ktopic", vec!["creat", "t"], "did you mean 'create'?"),
        ("kgroup", vec!["lst"], "did you mean 'list'?"),
    ] {
        run(plain(tool).args(&args))
            .code_is(2)
            .one_error_line(tool)
            .stderr_has(hint);
    }
}

const ALL_TOOLS: [&str; 5] = ["kcluster", "ktopic", "kprod", "kcons", "kgroup"];

/// The subcommands a tool's --help lists (none for kprod and kcons).
fn subcommands(tool: &str) -> Vec<String> {
    let help = run(plain(tool).arg("--help")).success().stdout();
    help.split("Commands:")
        .nth(1)
        .map(|rest| {
            rest.lines()
                .skip(1)
                .take_while(|line| line.starts_with("  "))
                // A name at the margin; a wrapped description is indented further.
                .filter(|line| !line[2..].starts_with(' '))
                .filter_map(|line| line.split_whitespace().next())
                .filter(|name| *name != "help")
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn man_pages_refer_only_to_installed_pages_and_list_the_exit_codes() {
    for tool in ALL_TOOLS {
        let man = run(plain(tool).args(["--generate", "man"]))
            .success()
            .stdout();
        // scripts/install installs one page per tool: no `ktopic-create(1)`.
        for reference in man.split("(1)").map(|before| {
            before
                .rsplit(|c: char| c.is_whitespace() || c == ',')
                .next()
                .unwrap_or("")
                .replace("\\fB", "")
                .replace("\\fR", "")
                .replace("\\-", "-")
        }) {
            if !reference.is_empty() && man.contains(&format!("{reference}(1)")) {
                assert!(
                    ALL_TOOLS.contains(&reference.as_str()),
                    "{tool}'s man page refers to {reference}(1), which is not installed"
                );
            }
        }
        let status = man
            .split(".SH \"EXIT STATUS\"")
            .nth(1)
            .unwrap_or_else(|| panic!("{tool}'s man page has no EXIT STATUS"));
        for code in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 130] {
            assert!(
                status.contains(&format!(".B {code}\n")),
                "{tool}'s man page does not list exit code {code}"
            );
        }
        // Every subcommand is in the page itself.
        for sub in subcommands(tool) {
            assert!(
                man.contains(&format!(".SS \"{tool} {sub}\"")),
                "{tool}'s man page has no section for {sub}"
            );
        }
        // Examples are kept as laid out, and a comment never runs past the page's width.
        for block in man.split(".nf\n").skip(1) {
            let block = block.split(".fi").next().unwrap();
            for line in block.lines() {
                assert!(
                    !(line
                        .replace("\\-", "-")
                        .replace("\\e", "\\")
                        .chars()
                        .count()
                        > 72
                        && line.contains("  # ")),
                    "{tool}'s man page: a comment wraps: {line}"
                );
            }
        }
    }
}

#[test]
fn example_comments_fit_an_80_column_terminal() {
    for tool in ALL_TOOLS {
        let mut commands = vec![vec![]];
        commands.extend(subcommands(tool).into_iter().map(|sub| vec![sub]));
        for command in commands {
            let help = run(plain(tool).args(&command).arg("--help"))
                .success()
                .stdout();
            let examples = help
                .split("Examples:")
                .nth(1)
                .unwrap_or_else(|| panic!("{tool} {command:?} --help has no examples"));
            for line in examples.lines() {
                assert!(
                    line.chars().count() <= 80 || !line.contains("  # "),
                    "{tool} {command:?} --help: a comment past column 80 wraps into the command column: {line}"
                );
            }
        }
    }
}

#[test]
fn a_tool_without_its_command_is_a_usage_error() {
    for tool in ["ktopic", "kgroup", "kcluster"] {
        let ran = run(&mut plain(tool)).code_is(2).one_error_line(tool);
        assert_eq!(ran.stdout(), "", "{tool}: help on stdout");
        let ran = ran.stderr_has("a command is needed: ");
        assert!(ran.stderr().contains("list") || ran.stderr().contains("up"));
    }
}
