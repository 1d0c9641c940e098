//! Codes of the diagnostics found while reading a dump (before any check runs).

use super::CodeInfo;
use crate::declare_code;

declare_code! {
    /// ## What it does
    /// Reports a line that cannot be read as an iptables-save line: an
    /// unterminated quote, malformed counters, a rule line without a command.
    ///
    /// ## Why it matters
    /// iptables-restore stops at the first such line and loads nothing of the
    /// table. iptlint cannot analyse what it cannot read, so the run exits 2.
    ///
    /// ## Example
    /// ```text
    /// -A INPUT -m comment --comment "open quote -j ACCEPT
    /// ```
    ///
    /// ## How to fix
    /// Regenerate the dump with `iptables-save`, or fix the line by hand.
    pub static SYNTAX_ERROR = ("IPT001", "syntax-error", Error, "a line that cannot be read as iptables-save input");
}

declare_code! {
    /// ## What it does
    /// Reports an option that none of the rule's loaded matches or its target
    /// accepts, such as `--days` (renamed `--weekdays` in iptables 1.4), and,
    /// once the dump's family is known (its header or an address), a match or
    /// target of the other family only: `-m ttl`, `-m icmp`, `-j TTL`, `-j ECN`
    /// in an ip6tables dump, `-m hl`, `-m icmp6`, `-m frag`, `-j HL`, `-j DNPT`
    /// and the like in an iptables dump.
    ///
    /// ## Why it matters
    /// iptables-restore fails with `unknown option` (or "Couldn't load match")
    /// and loads nothing.
    ///
    /// ## Example
    /// ```text
    /// -A INPUT -m time --days Mon -j DROP
    /// ```
    ///
    /// ## How to fix
    /// Use the option's current name, or load the module that provides it with `-m`.
    pub static UNKNOWN_OPTION = ("IPT002", "unknown-option", Error, "an option no loaded match or target accepts");
}

declare_code! {
    /// ## What it does
    /// Reports an option value iptables (or the kernel, when the table is
    /// committed) would refuse, each checked against iptables 1.8.9 by
    /// loading rules into the kernel:
    ///
    /// - Malformed values: addresses and prefixes, ports, MAC addresses,
    ///   marks, probabilities, conntrack states, log levels, TTL, HL, DSCP
    ///   and TOS values, NFQUEUE queue numbers, CT events, CLASSIFY classes,
    ///   TEE gateways; `-m time` days, dates and times of day and `-m u32`
    ///   tests exactly as libxt_time and libxt_u32 read them (`--weekdays
    ///   MON` and day 0 are refused; u32 allows 10 tests, numbers and ranges).
    /// - Options an extension needs: `-m multiport`, `addrtype`, `iprange`,
    ///   `connlimit`, `hashlimit`, `string`, `policy --dir` and the like;
    ///   AUDIT, TEE, IDLETIMER, HMARK, CLASSIFY, CONNSECMARK, SET, CHECKSUM,
    ///   TOS, ECN, TPROXY; DNAT without `--to-destination`; `-m recent`
    ///   without a command.
    /// - Protocols: a port in a NAT target (`--to-destination 10.1.1.1:80`)
    ///   or a `-m multiport` on a rule without `-p tcp`, `udp`, `sctp` or
    ///   `dccp` written before it (iptables checks it when it reads it);
    ///   `-m tcp` (udp, sctp, dccp, icmp, icmp6, esp, ah, mh) on a rule of
    ///   another protocol, `--reject-with tcp-reset`, TCPMSS, TCPOPTSTRIP
    ///   and the ECN target's TCP bits without `-p tcp`, TPROXY without
    ///   `-p tcp` or `-p udp`.
    /// - Ranges: a reversed port range in `--dport` of tcp or sctp, in
    ///   multiport and in a NAT target; `--limit-burst` of 0 or over 10000;
    ///   `-m hashlimit` rates and bursts the kernel's 64-bit credits
    ///   overflow on, and its grouping masks (a prefix over 32 in an IPv4
    ///   dump).
    /// - Structure: `-m policy` elements (`--next` without `--strict`, an
    ///   option twice in an element, an empty element under `--strict`, a
    ///   tunnel address without `--mode tunnel`, more than 4 elements);
    ///   `-o` in PREROUTING or INPUT, `-i` in OUTPUT or POSTROUTING; a
    ///   `--reject-with` type the dump's family does not have, and a
    ///   `-m policy` tunnel address or `-j TEE` gateway of the other family.
    ///
    /// ## Why it matters
    /// iptables-restore refuses the whole table.
    ///
    /// ## Example
    /// ```text
    /// -A INPUT -m mac --mac-source XX:XX:XX:XX:XX:XX -j RETURN
    /// ```
    ///
    /// ## How to fix
    /// Write the value in the form the option takes.
    pub static BAD_VALUE = ("IPT003", "bad-value", Error, "an option value iptables would refuse");
}

declare_code! {
    /// ## What it does
    /// Reports a chain name longer than 28 characters.
    ///
    /// ## Why it matters
    /// The kernel keeps chain names in 29 bytes with the final NUL; iptables
    /// refuses longer names.
    ///
    /// ## Example
    /// ```text
    /// :THIS-CHAIN-NAME-IS-FAR-TOO-LONG-TO-LOAD - [0:0]
    /// ```
    ///
    /// ## How to fix
    /// Shorten the name.
    pub static CHAIN_NAME_TOO_LONG = ("IPT004", "chain-name-too-long", Error, "a chain name over 28 characters");
}

declare_code! {
    /// ## What it does
    /// Reports a chain declaration, rule or `COMMIT` that is not inside a
    /// `*table` ... `COMMIT` block.
    ///
    /// ## Why it matters
    /// iptables-restore does not know which table it belongs to and fails.
    ///
    /// ## Example
    /// ```text
    /// -A INPUT -j ACCEPT
    /// *filter
    /// ```
    ///
    /// ## How to fix
    /// Move the line after a `*table` line.
    pub static RULE_OUTSIDE_TABLE = ("IPT005", "rule-outside-table", Error, "a rule, chain or COMMIT outside a table");
}

declare_code! {
    /// ## What it does
    /// Reports a table that is not closed by `COMMIT` before the next `*table`
    /// line or the end of the file.
    ///
    /// ## Why it matters
    /// iptables-restore applies a table only at its `COMMIT`; without it the
    /// table is never loaded ("COMMIT expected at line N").
    ///
    /// ## Example
    /// ```text
    /// *filter
    /// -A INPUT -j ACCEPT
    /// ```
    ///
    /// ## How to fix
    /// End each table with a line holding exactly `COMMIT`.
    pub static MISSING_COMMIT = ("IPT006", "missing-commit", Error, "a table without COMMIT");
}

declare_code! {
    /// ## What it does
    /// Reports a file with Windows (CRLF) line endings.
    ///
    /// ## Why it matters
    /// iptables keeps the `\r` inside the last word of each line, so the
    /// first table header or `COMMIT` already fails to load.
    ///
    /// ## Example
    /// A dump edited on Windows and copied to a node.
    ///
    /// ## How to fix
    /// Convert the file with `dos2unix` or `sed -i 's/\r$//'`.
    pub static CRLF_LINE_ENDINGS = ("IPT007", "crlf-line-endings", Error, "lines ending in CR LF");
}

declare_code! {
    /// ## What it does
    /// Reports a policy (`ACCEPT` or `DROP`) on a user-defined chain.
    ///
    /// ## Why it matters
    /// Only built-in chains have policies; iptables-legacy refuses the line
    /// ("Can't set policy ... Bad built-in chain name"). iptables-nft
    /// loads it and leaves the policy out, so the rules still fall through
    /// to the caller: the policy was never what it looked like.
    ///
    /// ## Example
    /// ```text
    /// :MY-CHAIN DROP [0:0]
    /// ```
    ///
    /// ## How to fix
    /// Write `-` as the policy of a user chain and end it with an explicit rule.
    pub static POLICY_ON_USER_CHAIN = ("IPT008", "policy-on-user-chain", Error, "a policy on a user-defined chain");
}

declare_code! {
    /// ## What it does
    /// Reports a user chain declared twice in the same table, `-N` of a
    /// chain that exists (built-in ones included), and, as a warning, a
    /// built-in chain declared again with another policy.
    ///
    /// ## Why it matters
    /// iptables-restore refuses a second `-N` ("Chain already exists"),
    /// and iptables-legacy a second `:` line of a user chain ("error
    /// creating chain: File exists"; iptables-nft takes it as the first).
    /// A built-in chain's line may come again: each sets the policy, and
    /// the last one holds, which is easy to miss when the first is the one
    /// read.
    ///
    /// ## Example
    /// ```text
    /// :KUBE-SERVICES - [0:0]
    /// :KUBE-SERVICES - [0:0]
    /// ```
    ///
    /// ## How to fix
    /// Delete one of the declarations.
    pub static DUPLICATE_CHAIN = ("IPT009", "duplicate-chain", Error, "a chain declared twice in one table");
}

declare_code! {
    /// ## What it does
    /// Reports `!` written after an option (`-s ! 10.0.0.0/8`,
    /// `--dport ! 22`), the form iptables <= 1.4.10 wrote.
    ///
    /// ## Why it matters
    /// iptables >= 1.4.12 reads that `!` as the option's value, so the
    /// word after it is left over and iptables-restore refuses the line
    /// ("Bad argument `10.0.0.0/8'"): an old dump no longer loads. Where
    /// no value follows the `!` (`-i ! -j ACCEPT`), iptables loads the rule
    /// with `!` as the value, an interface literally named `!` here, which
    /// is reported as a warning.
    ///
    /// ## Example
    /// ```text
    /// -A INPUT -s ! 10.0.0.0/8 -j DROP
    /// ```
    ///
    /// ## How to fix
    /// Put the `!` before the option: `! -s 10.0.0.0/8`.
    pub static OBSOLETE_NEGATION = ("IPT010", "obsolete-negation", Error, "`!` after an option, refused since iptables 1.4.12");
}

declare_code! {
    /// ## What it does
    /// Reports a `*table` line naming a table iptables does not have
    /// (tables are filter, nat, mangle, raw and security).
    ///
    /// ## Why it matters
    /// iptables-restore fails: "Table does not exist".
    ///
    /// ## Example
    /// ```text
    /// *filters
    /// ```
    ///
    /// ## How to fix
    /// Use one of the five table names.
    pub static UNKNOWN_TABLE = ("IPT011", "unknown-table", Error, "a table iptables does not have");
}

declare_code! {
    /// ## What it does
    /// Reports a rule added to, or a command on, a chain the table never
    /// declares (neither built-in, nor `:CHAIN`, nor `-N CHAIN`), and `-Z`
    /// of a built-in chain the restore has not declared, given a policy,
    /// flushed by name or added a rule to yet (iptables-nft only).
    ///
    /// ## Why it matters
    /// iptables-restore fails: "No chain/target/match by that name".
    /// iptables-nft makes a built-in chain in nf_tables only when the
    /// restore first uses it in one of those ways, so it also refuses
    /// `-Z OUTPUT` before that (iptables-legacy, which has every built-in
    /// chain, loads it). That one is not reported in a table that looks
    /// like a fragment for `iptables-restore --noflush` (no built-in chain
    /// declared or used), where an earlier restore may have made the chain.
    ///
    /// ## Example
    /// ```text
    /// *filter
    /// -A MY-CHAIN -j ACCEPT
    /// COMMIT
    /// ```
    ///
    /// ## How to fix
    /// Declare the chain with `:MY-CHAIN - [0:0]` before its rules.
    pub static UNDECLARED_CHAIN = ("IPT012", "undeclared-chain", Error, "a rule or command on a chain the table does not declare");
}

declare_code! {
    /// ## What it does
    /// Reports a built-in chain whose policy is not `ACCEPT` or `DROP` (`-`
    /// leaves the policy as it is, and is fine), and a chain line without a
    /// policy at all (`:X`, where a user chain takes `-`).
    ///
    /// ## Why it matters
    /// iptables-restore refuses it ("Bad built-in chain name" or "Can't set
    /// policy"; without a policy, "policy invalid").
    ///
    /// ## Example
    /// ```text
    /// :INPUT REJECT [0:0]
    /// ```
    ///
    /// ## How to fix
    /// Use `ACCEPT` or `DROP` and end the chain with an explicit REJECT rule.
    pub static BAD_POLICY = ("IPT013", "bad-policy", Error, "a built-in chain policy other than ACCEPT or DROP, or no policy");
}

declare_code! {
    /// ## What it does
    /// Reports a line made only of spaces or tabs.
    ///
    /// ## Why it matters
    /// iptables-restore skips only lines that are exactly empty; a blank line
    /// with whitespace is read as a rule without a command and refused.
    ///
    /// ## Example
    /// A line holding two spaces between two rules.
    ///
    /// ## How to fix
    /// Delete the whitespace.
    pub static WHITESPACE_LINE = ("IPT014", "whitespace-line", Error, "a line of only whitespace");
}

declare_code! {
    /// ## What it does
    /// Reports a misplaced `!`: two in a row, one at the end of the line, or
    /// one before an option that cannot be inverted (no option of a target
    /// can be).
    ///
    /// ## Why it matters
    /// iptables refuses the rule ("multiple `!` flags not allowed",
    /// "cannot have `!` before ...").
    ///
    /// ## Example
    /// ```text
    /// -A INPUT ! ! -s 10.0.0.0/8 -j DROP
    /// ```
    ///
    /// ## How to fix
    /// Write a single `!` right before the option it inverts.
    pub static BAD_NEGATION = ("IPT015", "bad-negation", Error, "a `!` iptables would refuse");
}

declare_code! {
    /// ## What it does
    /// Reports bytes that are not UTF-8. They are shown as U+FFFD.
    ///
    /// ## Why it matters
    /// iptables itself does not care, but comments and log prefixes in other
    /// encodings show garbled in every tool that reads the dump.
    ///
    /// ## Example
    /// A comment saved in Latin-1.
    ///
    /// ## How to fix
    /// Re-encode the comments as UTF-8.
    pub static INVALID_UTF8 = ("IPT016", "invalid-utf8", Warning, "bytes that are not UTF-8");
}

declare_code! {
    /// ## What it does
    /// Reports a word longer than 1023 bytes, or a rule line of more words
    /// than iptables-restore can hold (about 255).
    ///
    /// ## Why it matters
    /// iptables-restore refuses the line ("Parameter too long", "too many arguments").
    ///
    /// ## Example
    /// A `--comment` of 2000 characters.
    ///
    /// ## How to fix
    /// Shorten the word, or split the rule.
    pub static ARGUMENT_LIMIT = ("IPT017", "argument-limit", Error, "a word or rule over iptables-restore's limits");
}

declare_code! {
    /// ## What it does
    /// Reports a table that appears twice in one file.
    ///
    /// ## Why it matters
    /// iptables-restore replaces the first copy with the second, so every rule
    /// of the first copy is silently discarded.
    ///
    /// ## Example
    /// Two `*filter` blocks concatenated from two files.
    ///
    /// ## How to fix
    /// Merge the blocks into one.
    pub static DUPLICATE_TABLE = ("IPT018", "duplicate-table", Warning, "a table written twice; the last one wins");
}

declare_code! {
    /// ## What it does
    /// Reports an input that cannot be read at all: a missing file, a
    /// directory, a permission problem.
    ///
    /// ## Why it matters
    /// Nothing was checked, so the run exits 2.
    ///
    /// ## Example
    /// ```text
    /// iptlint check /no/such/file.rules
    /// ```
    ///
    /// ## How to fix
    /// Pass a readable file, or `-` to read standard input.
    pub static UNREADABLE_INPUT = ("IPT019", "unreadable-input", Error, "an input file that cannot be read");
}

declare_code! {
    /// ## What it does
    /// Stands in for diagnostics of one code beyond the first 200 in a
    /// file, so that a binary or badly broken file gives a short report.
    ///
    /// ## Why it matters
    /// Thousands of identical errors hide the first one, which is usually the
    /// one to fix.
    ///
    /// ## Example
    /// A binary file passed by mistake.
    ///
    /// ## How to fix
    /// Fix the first errors and run again.
    pub static TOO_MANY_DIAGNOSTICS = ("IPT020", "too-many-diagnostics", Note, "further diagnostics of one code were not shown");
}

declare_code! {
    /// ## What it does
    /// Reports a `"` that is never closed on its line.
    ///
    /// ## Why it matters
    /// iptables-restore does not refuse it: the quoted word runs to the end
    /// of the line, newline included. Everything after the quote, often the
    /// rule's `-j` target, silently becomes part of a comment or log prefix,
    /// and the rule loads without doing what it says.
    ///
    /// ## Example
    /// ```text
    /// -A INPUT -p tcp -m comment --comment "ssh from anywhere -j ACCEPT
    /// ```
    /// loads as a rule with no target whose comment is `ssh from anywhere -j ACCEPT`.
    ///
    /// ## How to fix
    /// Close the quote where the word ends.
    pub static UNTERMINATED_QUOTE = ("IPT021", "unterminated-quote", Warning, "a quote never closed swallows the rest of the line");
}

declare_code! {
    /// ## What it does
    /// Reports counters in front of a rule or after a chain that are not
    /// `[packets:bytes]` with two integers.
    ///
    /// ## Why it matters
    /// Plain `iptables-restore` ignores rule counters, but `iptables-restore -c`
    /// (the way a `iptables-save -c` dump is restored) fails on them.
    ///
    /// ## Example
    /// ```text
    /// [12:x] -A INPUT -j ACCEPT
    /// ```
    ///
    /// ## How to fix
    /// Write both counters as integers, or drop the brackets.
    pub static BAD_COUNTERS = ("IPT022", "bad-counters", Warning, "counters that are not two integers");
}

declare_code! {
    /// ## What it does
    /// Reports where iptlint stopped applying restore commands that move or
    /// search many rules or chains (`-I`, `-D`, `-X`, `-E`, `-F` without a
    /// chain) because they had already moved or compared ten million, and
    /// where it stopped making one rule per address of `-s a,b -d c,d`
    /// lists because they had made a hundred thousand.
    ///
    /// ## Why it matters
    /// Such a script costs time quadratic in its length: a million
    /// `-I CHAIN 1` lines would take hours to model. The commands after this
    /// point are not applied, so findings about the chains they touch may be
    /// wrong. iptables-save never writes these commands; a dump it wrote
    /// never gets here.
    ///
    /// ## Example
    /// A generated script inserting 200,000 rules one by one at position 1.
    ///
    /// ## How to fix
    /// Check the dump of the loaded ruleset (`iptables-save`) instead of the
    /// script that built it, or append rules in order with `-A`.
    pub static TOO_COMPLEX = ("IPT023", "too-complex", Warning, "restore commands past iptlint's work budget were not applied");
}

declare_code! {
    /// ## What it does
    /// Reports a `-m comment --comment` text longer than 255 bytes.
    ///
    /// ## Why it matters
    /// The kernel keeps a comment in 256 bytes, the last one a NUL:
    /// iptables loads the rule with the first 255 bytes of the text and
    /// drops the rest without a word, so `iptables-save` no longer shows
    /// what was written, and whatever reads comments back (kube-proxy's
    /// service names, a script's markers) sees them cut.
    ///
    /// ## Example
    /// ```text
    /// -A INPUT -m comment --comment "a text of 300 characters ..." -j ACCEPT
    /// ```
    ///
    /// ## How to fix
    /// Shorten the comment to 255 bytes at most.
    pub static TRUNCATED_COMMENT = ("IPT024", "truncated-comment", Warning, "a comment iptables cuts to 255 bytes");
}

declare_code! {
    /// ## What it does
    /// Reports a range written backwards that iptables loads as it is: a
    /// port range of the udp or dccp match (`--dport 10:5`) or an address
    /// range of `-m iprange` (`--src-range 10.0.0.9-10.0.0.1`).
    ///
    /// ## Why it matters
    /// The kernel tests `first <= value && value <= last`, which no value
    /// passes when the first is above the last: the match never matches,
    /// and with `!` in front it matches every packet. The rule loads
    /// without an error (the tcp and sctp matches refuse the same range;
    /// for iprange the kernel only logs "range ... is reversed and will
    /// never match"), so the mistake goes unseen. iptlint's analyses read
    /// the range as the kernel does: empty.
    ///
    /// ## Example
    /// ```text
    /// -A INPUT -p udp -m udp --dport 5000:4000 -j ACCEPT
    /// ```
    ///
    /// ## How to fix
    /// Write the lower end first: `--dport 4000:5000`.
    pub static EMPTY_RANGE = ("IPT025", "empty-range", Warning, "a reversed range that iptables loads but no packet falls in");
}

declare_code! {
    /// ## What it does
    /// Reports an option given twice in one rule (`-s` twice, `--dport`
    /// twice to one tcp match, `--log-level` twice to one LOG target), and
    /// options of one match or target that exclude each other (`--syn` with
    /// `--tcp-flags`, `--set-mark` with `--or-mark`, `--probability` with
    /// `--every`, `--dports` with `--ports`, two commands of `-m recent`,
    /// `--ttl-gt` with `--ttl-lt`, `--connlimit-above` with
    /// `--connlimit-upto`), or that only refine another one
    /// (`-m recent --set` with `--seconds`, `--hitcount` or `--rttl`).
    ///
    /// ## Why it matters
    /// iptables takes each option of a match or target once ("option
    /// \"--limit\" can only be used once", "multiple -s flags not allowed",
    /// "cannot be used together with"), and the kernel's recent match
    /// refuses `--seconds` and `--hitcount` on a rule that only records or
    /// removes addresses, so iptables-restore refuses the line and loads
    /// nothing of its table. Written by hand or by a
    /// template, the second copy is usually a merge of two rules.
    ///
    /// A second `-m tcp` (or any `-m`) starts a new match, which may take
    /// the same options again: `-m tcp --dport 1 -m tcp --dport 2` loads.
    ///
    /// ## Example
    /// ```text
    /// -A INPUT -p tcp --dport 22 --dport 2222 -j ACCEPT
    /// ```
    ///
    /// ## How to fix
    /// Keep one of the two, or use a match that takes several values
    /// (`-m multiport --dports 22,2222`).
    pub static CONFLICTING_OPTION = ("IPT026", "conflicting-option", Error, "an option given twice, or with one it excludes");
}

declare_code! {
    /// ## What it does
    /// Reports a host name where `-s` or `-d` (or an address of a
    /// `-s a,b` list) takes an address: `-s backup.example.com`.
    ///
    /// ## Why it matters
    /// iptables looks the name up when it loads the rules and adds one
    /// rule per address it finds; the kernel never sees the name. What the
    /// rule matches then depends on DNS (or `/etc/hosts`) at that moment,
    /// and the line is refused ("host/network not found") when the name
    /// does not resolve, as on a node whose resolver is not up yet at boot.
    /// iptables-save prints the addresses, never a name, so a dump read
    /// back differs from the file. iptlint does not resolve names: it takes
    /// such a rule as matching some addresses it cannot know, so it never
    /// calls the rule shadowing or shadowed on the address alone.
    ///
    /// ## Example
    /// ```text
    /// -A INPUT -s backup.example.com -p tcp --dport 22 -j ACCEPT
    /// ```
    ///
    /// ## How to fix
    /// Write the addresses: `-s 192.0.2.10/32`.
    pub static HOST_NAME_ADDRESS = ("IPT027", "host-name-address", Warning, "a host name, looked up when iptables loads the rule");
}

declare_code! {
    /// ## What it does
    /// Reports a `-m` module that iptables 1.8 does not have: a misspelt
    /// name (`-m conntrak`), a name in the wrong case (`-m TCP`), or a module
    /// of another project (`-m geoip` of xtables-addons).
    ///
    /// ## Why it matters
    /// iptables loads the module's extension when it reads the line and
    /// refuses the line when there is none ("Couldn't load match
    /// `conntrak':No such file or directory"): iptables-restore loads
    /// nothing of the table. Extensions from other projects exist, so this
    /// is a warning: on a machine where such an extension is installed the
    /// line loads. iptlint keeps the module's options as written and reads
    /// the rule as matching packets it cannot know.
    ///
    /// ## Example
    /// ```text
    /// -A INPUT -m conntrak --ctstate NEW -j ACCEPT
    /// ```
    ///
    /// ## How to fix
    /// Correct the name (`-m conntrack`), or make sure the extension is
    /// installed wherever the rules are loaded.
    pub static UNKNOWN_MODULE = ("IPT028", "unknown-module", Warning, "a `-m` module iptables does not have");
}

declare_code! {
    /// ## What it does
    /// Reports `--tcp-flags MASK COMP` whose COMP names a flag that MASK
    /// does not examine (`--tcp-flags SYN,ACK FIN`, `--tcp-flags SYN
    /// FIN,SYN`).
    ///
    /// ## Why it matters
    /// The kernel's tcp match takes the packet's flags under the mask and
    /// compares them with COMP as written (`(flags & mask) == comp`): a flag
    /// outside the mask is never among the masked flags, so no packet
    /// matches, and with `!` in front every TCP packet does. iptables loads
    /// the rule without a word. It is almost always a flag left out of the
    /// mask. iptlint's analyses read the match as the kernel does.
    ///
    /// ## Example
    /// ```text
    /// -A INPUT -p tcp --tcp-flags SYN,ACK FIN -j DROP
    /// ```
    ///
    /// ## How to fix
    /// Add the flags to the mask (`--tcp-flags FIN,SYN,ACK FIN`): the mask
    /// lists the flags examined, COMP those of them that must be set.
    pub static IMPOSSIBLE_TCP_FLAGS = ("IPT029", "impossible-tcp-flags", Warning, "`--tcp-flags` requiring a flag its mask does not examine");
}

declare_code! {
    /// ## What it does
    /// Reports a `-j LOG --log-prefix` longer than 29 bytes and a `-j NFLOG
    /// --nflog-prefix` longer than 63.
    ///
    /// ## Why it matters
    /// The kernel keeps a LOG prefix in 30 bytes, the last one a NUL:
    /// iptables (legacy and nft alike) loads the rule with the first 29
    /// bytes and drops the rest without a word. iptables-legacy keeps 63
    /// bytes of an NFLOG prefix (iptables-nft, which loads NFLOG as
    /// nf_tables' own `log`, 127). The log lines then start with a cut
    /// prefix, and whatever looks for the whole one (a log filter, an
    /// alert, a `grep`) finds nothing.
    ///
    /// ## Example
    /// ```text
    /// -A INPUT -j LOG --log-prefix "dropped-from-the-internet-zone: "
    /// ```
    ///
    /// ## How to fix
    /// Shorten the prefix to 29 bytes (NFLOG: 63) at most.
    pub static TRUNCATED_LOG_PREFIX = ("IPT030", "truncated-log-prefix", Warning, "a log prefix iptables cuts to 29 bytes (NFLOG: 63)");
}

declare_code! {
    /// ## What it does
    /// Reports `-R CHAIN N` and `-Z CHAIN N` whose rule N was added by the
    /// same restore (by `-A`, `-I` or an earlier `-R`), as every rule of a
    /// file restored whole is.
    ///
    /// ## Why it matters
    /// iptables-nft sends a restore to the kernel as one transaction, and
    /// finds the rule to replace or zero among the rules committed before
    /// it: a rule the same transaction adds is not there yet.
    /// iptables-nft-restore 1.8.9 crashes on the line (segmentation fault)
    /// and loads nothing. iptables-legacy-restore, which edits a copy of the
    /// table, loads it.
    /// `-R` or `-Z` by number of a rule that was loaded before the restore
    /// (`iptables-restore --noflush` on a chain the file does not declare)
    /// works with both, and so do `-D N` and `-I N` of any rule.
    ///
    /// ## Example
    /// ```text
    /// -A INPUT -p tcp --dport 22 -j ACCEPT
    /// -R INPUT 1 -p tcp --dport 2222 -j ACCEPT
    /// ```
    ///
    /// ## How to fix
    /// Write the rule as it should end up (`-A INPUT -p tcp --dport 2222 -j
    /// ACCEPT`) instead of adding it and replacing it; zero counters with
    /// `[0:0]` in front of the rule or `-Z CHAIN` (all rules), which both
    /// backends load.
    pub static NUMBERED_NEW_RULE = ("IPT031", "numbered-new-rule", Error, "`-R`/`-Z` by number of a rule the same restore adds (iptables-nft cannot)");
}

/// Every parse-level code, in code order.
pub static PARSE_CODES: &[&CodeInfo] = &[
    &SYNTAX_ERROR,
    &UNKNOWN_OPTION,
    &BAD_VALUE,
    &CHAIN_NAME_TOO_LONG,
    &RULE_OUTSIDE_TABLE,
    &MISSING_COMMIT,
    &CRLF_LINE_ENDINGS,
    &POLICY_ON_USER_CHAIN,
    &DUPLICATE_CHAIN,
    &OBSOLETE_NEGATION,
    &UNKNOWN_TABLE,
    &UNDECLARED_CHAIN,
    &BAD_POLICY,
    &WHITESPACE_LINE,
    &BAD_NEGATION,
    &INVALID_UTF8,
    &ARGUMENT_LIMIT,
    &DUPLICATE_TABLE,
    &UNREADABLE_INPUT,
    &TOO_MANY_DIAGNOSTICS,
    &UNTERMINATED_QUOTE,
    &BAD_COUNTERS,
    &TOO_COMPLEX,
    &TRUNCATED_COMMENT,
    &EMPTY_RANGE,
    &CONFLICTING_OPTION,
    &HOST_NAME_ADDRESS,
    &UNKNOWN_MODULE,
    &IMPOSSIBLE_TCP_FLAGS,
    &TRUNCATED_LOG_PREFIX,
    &NUMBERED_NEW_RULE,
];
