//! Dockerfile parsing, as the classic builder's parser does it: parser
//! directives (`# escape=`), comments, line continuations, instruction
//! names in any case, JSON (exec) and shell forms, and `--flag=value`
//! options. Variable substitution happens later, per step, in
//! [`words`], because ARG/ENV scoping depends on what ran before.
//!
//! Pure: no I/O, unit tested below.

pub mod words;

/// One instruction as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Lowercase instruction name (`run`, `copy`, ...).
    pub name: String,
    /// `--name=value` options before the arguments, in order.
    pub flags: Vec<(String, String)>,
    /// The arguments after the flags, continuation lines joined.
    pub args: String,
    /// The JSON array when the arguments are one (exec form).
    pub json: Option<Vec<String>>,
    /// The instruction as written, continuations joined (for `Step N/M :`).
    pub original: String,
    /// 1-based line where it starts.
    pub line: usize,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The escape character (`\` unless `# escape=` says otherwise).
    pub escape: char,
    /// Instructions in order.
    pub instructions: Vec<Instruction>,
}

/// Why a Dockerfile could not be parsed (Docker's texts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// `dockerfile parse error on line N: unknown instruction: FOO`.
    #[error("dockerfile parse error on line {line}: unknown instruction: {name}")]
    Unknown {
        /// Line number.
        line: usize,
        /// The instruction as written, upper-cased.
        name: String,
    },
    /// Any other malformed line.
    #[error("dockerfile parse error on line {line}: {message}")]
    Syntax {
        /// Line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// No instruction at all.
    #[error("the Dockerfile (Dockerfile) cannot be empty")]
    Empty,
}

/// Instructions the classic builder knows.
pub const KNOWN: &[&str] = &[
    "add",
    "arg",
    "cmd",
    "copy",
    "entrypoint",
    "env",
    "expose",
    "from",
    "healthcheck",
    "label",
    "maintainer",
    "onbuild",
    "run",
    "shell",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

/// Instructions whose arguments may be a JSON array.
const JSON_FORMS: &[&str] = &["add", "cmd", "copy", "entrypoint", "run", "shell", "volume"];

/// Reads the parser directives at the top: only `escape` changes parsing
/// (`syntax` names a BuildKit frontend, meaningless to the classic builder).
fn directives(text: &str) -> Result<char, ParseError> {
    let mut escape = '\\';
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        let Some(rest) = t.strip_prefix('#') else {
            break;
        };
        let Some((k, v)) = rest.split_once('=') else {
            break;
        };
        let k = k.trim().to_ascii_lowercase();
        if k.is_empty() || k.contains(char::is_whitespace) {
            break;
        }
        let v = v.trim();
        if k == "escape" {
            escape = match v {
                "\\" => '\\',
                "`" => '`',
                _ => {
                    return Err(ParseError::Syntax {
                        line: i + 1,
                        message: format!("invalid escape token '{v}' does not match ` or \\"),
                    });
                }
            };
        }
    }
    Ok(escape)
}

/// Whether `line` (right-trimmed) ends in the escape character, i.e. goes
/// on on the next line.
fn continues(line: &str, escape: char) -> Option<&str> {
    let t = line.trim_end();
    t.strip_suffix(escape)
}

/// Parses a whole Dockerfile.
pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    let escape = directives(text)?;
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let start = i;
        let first = lines[i].trim_start();
        i += 1;
        if first.trim().is_empty() || first.starts_with('#') {
            continue;
        }
        let mut joined = String::new();
        let mut cur = first;
        loop {
            match continues(cur, escape) {
                Some(head) => {
                    joined.push_str(head);
                    // Comment and empty lines inside a continuation are
                    // dropped, as Docker's parser does.
                    while i < lines.len() {
                        let t = lines[i].trim_start();
                        if t.starts_with('#') || t.trim().is_empty() {
                            i += 1;
                        } else {
                            break;
                        }
                    }
                    if i >= lines.len() {
                        break;
                    }
                    // Continuation lines keep their indentation, as
                    // Docker's parser does (it shows in history).
                    cur = lines[i];
                    i += 1;
                }
                None => {
                    joined.push_str(cur.trim_end());
                    break;
                }
            }
        }
        out.push(instruction(&joined, start + 1)?);
    }
    if out.is_empty() {
        return Err(ParseError::Empty);
    }
    Ok(Dockerfile {
        escape,
        instructions: out,
    })
}

/// Splits one joined line into name, flags, and arguments.
fn instruction(line: &str, lineno: usize) -> Result<Instruction, ParseError> {
    let line = line.trim();
    let (word, rest) = match line.find(char::is_whitespace) {
        Some(p) => (&line[..p], line[p..].trim_start()),
        None => (line, ""),
    };
    let name = word.to_ascii_lowercase();
    if !KNOWN.contains(&name.as_str()) {
        return Err(ParseError::Unknown {
            line: lineno,
            name: word.to_ascii_uppercase(),
        });
    }
    let mut flags = Vec::new();
    let mut args = rest;
    // ONBUILD's flags belong to the instruction it wraps.
    if name != "onbuild" {
        while let Some(f) = args.strip_prefix("--") {
            let end = f.find(char::is_whitespace).unwrap_or(f.len());
            let flag = &f[..end];
            if flag.is_empty() {
                // A lone `--` ends the flags.
                args = f[end..].trim_start();
                break;
            }
            let (k, v) = flag.split_once('=').unwrap_or((flag, ""));
            flags.push((k.to_ascii_lowercase(), v.to_owned()));
            args = f[end..].trim_start();
        }
    }
    let json = if JSON_FORMS.contains(&name.as_str()) && args.starts_with('[') {
        serde_json::from_str::<Vec<String>>(args).ok()
    } else {
        None
    };
    Ok(Instruction {
        name,
        flags,
        args: args.to_owned(),
        json,
        original: line.to_owned(),
        line: lineno,
    })
}

impl Instruction {
    /// The value of flag `name`, if given.
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Refuses flags outside `allowed`, with Docker's text.
    pub fn check_flags(&self, allowed: &[&str]) -> Result<(), String> {
        match self
            .flags
            .iter()
            .find(|(k, _)| !allowed.contains(&k.as_str()))
        {
            Some((k, _)) => Err(format!("Unknown flag: {k}")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_comments_and_case() {
        let df = parse(
            "# a comment\nfrom busybox\n\nRun echo a \\\n  # inner comment\n  && echo b\ncmd [\"sh\", \"-c\", \"x\"]\n",
        )
        .unwrap();
        assert_eq!(df.escape, '\\');
        let names: Vec<_> = df.instructions.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["from", "run", "cmd"]);
        assert_eq!(df.instructions[1].args, "echo a   && echo b");
        assert_eq!(df.instructions[1].line, 4);
        assert_eq!(
            df.instructions[2].json.as_deref(),
            Some(&["sh".to_owned(), "-c".to_owned(), "x".to_owned()][..])
        );
        assert!(df.instructions[1].json.is_none());
    }

    #[test]
    fn escape_directive() {
        let df = parse("# escape=`\nFROM busybox\nRUN echo c:\\dir `\n  more\n").unwrap();
        assert_eq!(df.escape, '`');
        assert_eq!(df.instructions[1].args, "echo c:\\dir   more");
        assert!(parse("# escape=x\nFROM a\n").is_err());
        // A directive after an instruction is a comment.
        let df = parse("FROM a\n# escape=`\nRUN a \\\n b\n").unwrap();
        assert_eq!(df.escape, '\\');
        assert_eq!(df.instructions[1].args, "a  b");
    }

    #[test]
    fn flags_and_json() {
        let df =
            parse("FROM --platform=linux/amd64 busybox AS b\nCOPY --from=b --chown=1:2 [\"a b\", \"/c\"]\nRUN [not json\n").unwrap();
        let from = &df.instructions[0];
        assert_eq!(from.flag("platform"), Some("linux/amd64"));
        assert_eq!(from.args, "busybox AS b");
        let copy = &df.instructions[1];
        assert_eq!(copy.flag("from"), Some("b"));
        assert_eq!(copy.flag("chown"), Some("1:2"));
        assert_eq!(copy.json.as_ref().map(Vec::len), Some(2));
        assert!(copy.check_flags(&["from", "chown", "chmod"]).is_ok());
        assert_eq!(
            copy.check_flags(&["from"]),
            Err("Unknown flag: chown".into())
        );
        assert!(df.instructions[2].json.is_none());
    }

    #[test]
    fn errors_have_dockers_text() {
        assert_eq!(
            parse("FROM a\nfoo bar\n").unwrap_err().to_string(),
            "dockerfile parse error on line 2: unknown instruction: FOO"
        );
        assert_eq!(parse("# only\n\n").unwrap_err(), ParseError::Empty);
    }
}
