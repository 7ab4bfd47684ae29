//! Log-format strings, as log-parsing benchmarks write them: `<Date> <Time> <Level> <Component>:
//! <Content>`. The string is a regular expression in which each `<Field>` stands for a non-greedy
//! named group and each run of spaces matches `\s+`, anchored at both ends, so `\[<Time>\]` and
//! optional parts such as `(\[<PID>\])?` work. Only `<Content>` is mined.

use regex::Regex;

/// A compiled log format.
#[derive(Debug, Clone)]
pub struct LogFormat {
    regex: Regex,
    content: usize,
}

impl LogFormat {
    /// Compiles `format`; the error says what is wrong with it.
    pub fn parse(format: &str) -> Result<LogFormat, String> {
        let mut pattern = String::from("^");
        let mut names: Vec<String> = Vec::new();
        let mut rest = format;
        while let Some(open) = rest.find('<') {
            let (literal, tail) = rest.split_at(open);
            let Some(close) = tail.find('>') else {
                return Err(format!("`<` at byte {} is never closed with `>`", format.len() - rest.len() + open));
            };
            let name = &tail[1..close];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("`<{name}>` is not a field name (letters, digits and `_`)"));
            }
            if names.iter().any(|n| n == name) {
                return Err(format!("field `<{name}>` appears twice"));
            }
            push_literal(&mut pattern, literal);
            pattern.push_str(&format!("(?P<{name}>.*?)"));
            names.push(name.to_string());
            rest = &tail[close + 1..];
        }
        push_literal(&mut pattern, rest);
        pattern.push('$');
        if !names.iter().any(|n| n == "Content") {
            return Err("the format has no `<Content>` field: it names the part of each line to mine".into());
        }
        let regex = Regex::new(&pattern).map_err(|e| format!("the format is not a valid expression: {e}"))?;
        let content = regex
            .capture_names()
            .position(|n| n == Some("Content"))
            .ok_or_else(|| "the format has no `<Content>` group".to_string())?;
        Ok(LogFormat { regex, content })
    }

    /// The part of `line` to mine: its `<Content>`, or the whole line when it does not match.
    pub fn content<'a>(&self, line: &'a str) -> (&'a str, bool) {
        match self.regex.captures(line).and_then(|c| c.get(self.content)) {
            Some(m) => (m.as_str(), true),
            None => (line, false),
        }
    }
}

/// Appends the text between fields: runs of spaces become `\s+`, the rest is kept as written
/// (it is part of the expression).
fn push_literal(pattern: &mut String, literal: &str) {
    let mut spaces = false;
    for c in literal.chars() {
        if c == ' ' {
            if !spaces {
                pattern.push_str(r"\s+");
            }
            spaces = true;
        } else {
            spaces = false;
            pattern.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LogFormat;

    #[test]
    fn fields_spaces_and_brackets() {
        let f = LogFormat::parse("<Date> <Time> <Level> <Component>: <Content>").expect("a valid format");
        assert_eq!(
            f.content("081109 203615 INFO dfs.DataNode: Receiving block  blk_1"),
            ("Receiving block  blk_1", true)
        );
        let f = LogFormat::parse(r"\[<Time>\] \[<Level>\] <Content>").expect("a valid format");
        assert_eq!(f.content("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok"), ("workerEnv.init() ok", true));
        let f = LogFormat::parse(r"<Date> <Component>(\[<Pid>\])?: <Content>").expect("a valid format");
        assert_eq!(f.content("Dec 10 sshd[24200]: Invalid user"), ("Invalid user", true));
        assert_eq!(f.content("Dec 10 kernel: boot"), ("boot", true));
    }

    #[test]
    fn unmatched_lines_are_whole() {
        let f = LogFormat::parse("<Level>: <Content>").expect("a valid format");
        assert_eq!(f.content("no colon here"), ("no colon here", false));
    }

    #[test]
    fn bad_formats_are_explained() {
        assert!(LogFormat::parse("<Date> <Time>").expect_err("a bad format").contains("no `<Content>`"));
        assert!(LogFormat::parse("<Date <Content>").expect_err("a bad format").contains("not a field name"));
        assert!(LogFormat::parse("<Content> <Content>").expect_err("a bad format").contains("twice"));
        assert!(LogFormat::parse("<Time> <Content").expect_err("a bad format").contains("never closed"));
        assert!(LogFormat::parse("(<Time> <Content>").expect_err("a bad format").contains("not a valid expression"));
    }
}
