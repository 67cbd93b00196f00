use super::*;

fn rules(args: &str, env: &str) -> Result<ProcessRules, String> {
    let raw: RawProcess =
        toml::from_str(&format!("args = {args}\nenv = {env}")).map_err(|e| e.to_string())?;
    validate("piper", raw, &|text| {
        Ok(text.replace("${PIPER_MODEL_PATH}", "/voices/a.onnx"))
    })
}

fn line(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

const PIPER: &str = r#"["--model", "${PIPER_MODEL_PATH}", "{--output-raw|--output_raw}",
    { optional = ["--speaker", "{integer}"] }, { optional = ["--length_scale", "{number}"] }]"#;

#[test]
fn a_declared_shape_takes_its_command_lines_and_nothing_else() {
    let piper = rules(PIPER, "[]").expect("valid");
    for ok in [
        &["--model", "/voices/a.onnx", "--output-raw"][..],
        &[
            "--model",
            "/voices/a.onnx",
            "--output_raw",
            "--speaker",
            "3",
        ],
        &[
            "--model",
            "/voices/a.onnx",
            "--output-raw",
            "--speaker",
            "0",
            "--length_scale",
            "0.9",
        ],
        &[
            "--model",
            "/voices/a.onnx",
            "--output-raw",
            "--length_scale",
            "1",
        ],
    ] {
        assert_eq!(piper.check_args(&line(ok)), Ok(()), "{ok:?}");
    }
    let refused = |args: &[&str]| piper.check_args(&line(args)).expect_err("refused");
    let other_model = refused(&["--model", "/etc/shadow", "--output-raw"]);
    assert_eq!(other_model.position, 2);
    assert_eq!(other_model.expected, "`/voices/a.onnx`");
    let extra = refused(&["--model", "/voices/a.onnx", "--output-raw", "--debug"]);
    assert_eq!(
        extra.to_string(),
        "argument 4 `--debug` (expected nothing more)"
    );
    refused(&[
        "--model",
        "/voices/a.onnx",
        "--output-raw",
        "--speaker",
        "x",
    ]);
    refused(&[
        "--model",
        "/voices/a.onnx",
        "--output-raw",
        "--length_scale",
        "1e9",
    ]);
    refused(&[
        "--model",
        "/voices/a.onnx",
        "--output-raw",
        "--length_scale",
        "1.",
    ]);
    refused(&["--model", "/voices/a.onnx"]);
    // Optional groups keep their order.
    refused(&[
        "--model",
        "/voices/a.onnx",
        "--output-raw",
        "--length_scale",
        "1",
        "--speaker",
        "2",
    ]);
}

#[test]
fn no_declared_args_means_no_arguments() {
    let bare = ProcessRules::default();
    assert_eq!(bare.check_args(&[]), Ok(()));
    let refused = bare.check_args(&line(&["-c", "id"])).expect_err("refused");
    assert!(refused.expected.contains("declares no `args`"), "{refused}");
}

#[test]
fn bad_placeholders_and_groups_are_named() {
    let err = rules(r#"["{float}"]"#, "[]").expect_err("unknown placeholder");
    assert!(
        err.starts_with("[plugins.piper.process] args, element 1: `{float}` is not a placeholder"),
        "{err}"
    );
    let err = rules(r#"["a", { optional = [] }]"#, "[]").expect_err("empty group");
    assert!(err.contains("args, element 2"), "{err}");
    let err = rules(r#"[{ optional = ["a"], extra = 1 }]"#, "[]").expect_err("extra key");
    assert!(err.contains("one non-empty `optional` list"), "{err}");
    let err = rules(r#"[{ optional = [{ optional = ["a"] }] }]"#, "[]").expect_err("nested");
    assert!(err.contains("no nested groups"), "{err}");
    let err = rules("[3]", "[]").expect_err("a number");
    assert!(err.contains("found integer"), "{err}");
    let err = rules(r#"["{a||b}"]"#, "[]").expect_err("empty alternative");
    assert!(err.contains("empty alternative"), "{err}");
}

#[test]
fn loader_variables_cannot_be_declared() {
    for name in [
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "LD_AUDIT",
        "DYLD_INSERT_LIBRARIES",
        "BASH_ENV",
        "PYTHONPATH",
        "GCONV_PATH",
    ] {
        let err = rules("[]", &format!("[\"{name}\"]")).expect_err(name);
        assert_eq!(
            err,
            format!(
                "[plugins.piper.process] env: `{name}` is never passed to a child (it changes how programs are loaded or what code they run); remove it"
            )
        );
    }
    let err = rules("[]", r#"["A-B"]"#).expect_err("bad name");
    assert!(err.contains("`A-B` is not a variable name"), "{err}");
    let ok = rules("[]", r#"["ESPEAK_DATA_PATH"]"#).expect("declared");
    assert_eq!(ok.check_env("ESPEAK_DATA_PATH"), Ok(()));
    assert_eq!(ok.check_env("HOME"), Err("not declared in `env`".into()));
    assert!(ok.check_env("LD_PRELOAD").is_err());
}

#[test]
fn the_table_needs_the_process_capability_and_knows_its_keys() {
    let manifest = |capabilities: &str, table: &str| {
        let text = format!(
            "[plugins.x]\npath = \"x.wasm\"\ncapabilities = {capabilities}\n[plugins.x.process]\n{table}\n"
        );
        super::super::Manifest::parse(&text, std::path::Path::new("/p/plugins.toml"), None)
    };
    let err = manifest(r#"["log"]"#, r#"args = ["-v"]"#).expect_err("no capability");
    assert!(
        err.to_string()
            .contains("[plugins.x.process] is set but [plugins.x] lacks the `process` capability"),
        "{err}"
    );
    let err = manifest(r#"["process"]"#, "argz = []").expect_err("unknown key");
    assert!(err.to_string().contains("argz"), "{err}");
    let err = manifest(r#"["process"]"#, r#"env = ["LD_PRELOAD"]"#).expect_err("loader");
    assert!(
        err.to_string()
            .contains("[plugins.x.process] env: `LD_PRELOAD` is never passed to a child"),
        "{err}"
    );
    let ok = manifest(r#"["process"]"#, r#"args = ["{integer}"]"#).expect("valid");
    assert_eq!(
        ok.plugins["x"].process.args,
        [ArgPattern::Word(ArgWord::Integer)]
    );
    let default = manifest(r#"["process"]"#, "").expect("valid");
    assert_eq!(default.plugins["x"].process, ProcessRules::default());
}

#[test]
fn limits_have_defaults_and_refuse_zero() {
    let raw: RawProcess = toml::from_str("cpu_seconds = 5\nmax_processes = 8").expect("toml");
    let rules = validate("x", raw, &|t| Ok(t.to_string())).expect("valid");
    assert_eq!(rules.limits.cpu_seconds, 5);
    assert_eq!(rules.limits.max_processes, 8);
    assert_eq!(rules.limits.memory_mb, DEFAULT_MEMORY_MB);
    assert_eq!(rules.max_children, DEFAULT_MAX_CHILDREN);
    assert_eq!((rules.uid, rules.gid), (65_534, 65_534));
    let raw: RawProcess = toml::from_str("memory_mb = 0").expect("toml");
    let err = validate("x", raw, &|t| Ok(t.to_string())).expect_err("zero");
    assert_eq!(err, "[plugins.x.process] memory_mb must be at least 1");
}
