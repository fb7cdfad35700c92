//! The SQL files of `deploy/mysql/` as a person applies them: every `@NAME@` placeholder
//! replaced (the README's `render` does it with `sed`), comment lines dropped, split into
//! statements. A placeholder left over is a test failure, so a file and the README's
//! list of placeholders cannot drift apart unnoticed.

/// The statements of `sql` with each `(NAME, value)` put in for `@NAME@`. Panics when a
/// placeholder is left over.
pub fn render(sql: &str, values: &[(&str, &str)]) -> Vec<String> {
    let mut text: String = sql
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    for (name, value) in values {
        text = text.replace(&format!("@{name}@"), value);
    }
    if let Some(left) = leftover_placeholder(&text) {
        panic!("no value given for the placeholder {left} in:\n{text}");
    }
    text.split(';')
        .map(str::trim)
        .filter(|statement| !statement.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The first `@NAME@` (capital letters and `_`) still in `text`.
fn leftover_placeholder(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut start = 0;
    while let Some(offset) = text[start..].find('@') {
        let at = start + offset;
        let name_len = bytes[at + 1..]
            .iter()
            .take_while(|b| b.is_ascii_uppercase() || **b == b'_')
            .count();
        let end = at + 1 + name_len;
        if name_len > 0 && bytes.get(end) == Some(&b'@') {
            return Some(&text[at..=end]);
        }
        start = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_and_comments_and_empty_statements_dropped() {
        let sql =
            "-- @IGNORED@ in a comment\nCREATE USER 'u'@'@HOST@';\n\nGRANT x TO 'u'@'@HOST@';\n";
        assert_eq!(
            render(sql, &[("HOST", "10.0.0.0/255.0.0.0")]),
            [
                "CREATE USER 'u'@'10.0.0.0/255.0.0.0'",
                "GRANT x TO 'u'@'10.0.0.0/255.0.0.0'"
            ]
        );
    }

    #[test]
    #[should_panic(expected = "@PASSWORD@")]
    fn a_placeholder_without_a_value_fails() {
        render("CREATE USER 'u'@'%' IDENTIFIED BY '@PASSWORD@'", &[]);
    }

    #[test]
    fn an_account_host_is_not_mistaken_for_a_placeholder() {
        assert_eq!(leftover_placeholder("'u'@'%' 'v'@'localhost'"), None);
    }
}
