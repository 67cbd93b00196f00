use super::*;

fn class(text: &str) -> AddressClass {
    classify(text.parse().expect("an IP address"))
}

#[test]
fn ipv4_ranges_are_classified() {
    for (ip, expected) in [
        ("127.0.0.1", AddressClass::Loopback),
        ("127.255.255.254", AddressClass::Loopback),
        ("10.0.0.1", AddressClass::Private),
        ("10.255.255.255", AddressClass::Private),
        ("172.16.0.1", AddressClass::Private),
        ("172.31.255.255", AddressClass::Private),
        ("192.168.1.1", AddressClass::Private),
        ("100.64.0.1", AddressClass::Shared),
        ("100.127.255.255", AddressClass::Shared),
        ("169.254.0.1", AddressClass::LinkLocal),
        ("169.254.169.254", AddressClass::Metadata),
        ("169.254.170.2", AddressClass::Metadata),
        ("100.100.100.200", AddressClass::Metadata),
        ("192.0.0.192", AddressClass::Metadata),
        ("168.63.129.16", AddressClass::Metadata),
        ("0.0.0.0", AddressClass::Unspecified),
        ("0.1.2.3", AddressClass::Unspecified),
        ("255.255.255.255", AddressClass::Broadcast),
        ("224.0.0.1", AddressClass::Multicast),
        ("239.255.255.250", AddressClass::Multicast),
        ("240.0.0.1", AddressClass::Reserved),
        ("198.18.0.1", AddressClass::Reserved),
        ("8.8.8.8", AddressClass::Public),
        ("172.15.255.255", AddressClass::Public),
        ("172.32.0.0", AddressClass::Public),
        ("100.63.255.255", AddressClass::Public),
        ("100.128.0.0", AddressClass::Public),
        ("169.253.255.255", AddressClass::Public),
        ("1.1.1.1", AddressClass::Public),
    ] {
        assert_eq!(class(ip), expected, "{ip}");
    }
}

#[test]
fn ipv6_ranges_and_embedded_ipv4_are_classified() {
    for (ip, expected) in [
        ("::1", AddressClass::Loopback),
        ("::", AddressClass::Unspecified),
        ("fe80::1", AddressClass::LinkLocal),
        ("febf::1", AddressClass::LinkLocal),
        ("fec0::1", AddressClass::UniqueLocal),
        ("fc00::1", AddressClass::UniqueLocal),
        ("fdff:ffff::1", AddressClass::UniqueLocal),
        ("fd00:ec2::254", AddressClass::Metadata),
        ("ff02::1", AddressClass::Multicast),
        ("::ffff:127.0.0.1", AddressClass::Loopback),
        ("::ffff:10.1.2.3", AddressClass::Private),
        ("::ffff:169.254.169.254", AddressClass::Metadata),
        ("::ffff:192.168.0.1", AddressClass::Private),
        ("::127.0.0.1", AddressClass::Loopback),
        ("::169.254.1.1", AddressClass::LinkLocal),
        ("64:ff9b::127.0.0.1", AddressClass::Loopback),
        ("64:ff9b::a9fe:a9fe", AddressClass::Metadata),
        ("2002:7f00:1::", AddressClass::Loopback),
        ("2002:a00:1::1", AddressClass::Private),
        ("::ffff:8.8.8.8", AddressClass::Public),
        ("2606:4700:4700::1111", AddressClass::Public),
        ("2001:db8::1", AddressClass::Public),
    ] {
        assert_eq!(class(ip), expected, "{ip}");
    }
}

fn egress(allowed: &[&str]) -> Egress {
    let patterns: Vec<HostPattern> = allowed
        .iter()
        .map(|p| HostPattern::parse(p).expect("valid pattern"))
        .collect();
    Egress::new("tester", &patterns)
}

fn refused(result: Result<Url, Refusal>) -> String {
    match result {
        Err(refusal) => refusal.to_string(),
        Ok(url) => panic!("{url} should be refused"),
    }
}

#[test]
fn inner_addresses_need_a_literal_entry() {
    let open = egress(&["http://*:*"]);
    for url in [
        "http://127.0.0.1:1/",
        "http://2130706433:1/",
        "http://0x7f.1:1/",
        "http://[::ffff:127.0.0.1]:1/",
        "http://[::1]:1/",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/",
        "http://0.0.0.0:1/",
    ] {
        let message = refused(open.parse(Capability::Http, url));
        assert!(
            message.starts_with("tester is not granted http to ")
                && message.contains("name it literally in allowed_hosts"),
            "{url}: {message}"
        );
    }
    let literal = egress(&["http://127.0.0.1:*", "http://[::1]:8080"]);
    assert!(
        literal
            .parse(Capability::Http, "http://127.0.0.1:9/")
            .is_ok()
    );
    assert!(
        literal
            .parse(Capability::Http, "http://2130706433:9/")
            .is_ok()
    );
    assert!(
        literal
            .parse(Capability::Http, "http://[::1]:8080/")
            .is_ok()
    );
    assert!(literal.parse(Capability::Http, "http://8.8.8.8/").is_err());
    let other_port = egress(&["http://127.0.0.1:8080", "http://*:*"]);
    assert!(
        other_port
            .parse(Capability::Http, "http://127.0.0.1:8080/")
            .is_ok()
    );
    assert!(
        other_port
            .parse(Capability::Http, "http://127.0.0.1:9/")
            .is_err(),
        "naming one port of an address does not open the others through `*`"
    );
    let public = egress(&["https://*:*"]);
    assert!(public.parse(Capability::Http, "https://1.1.1.1/").is_ok());
}

#[test]
fn names_are_vetted_by_the_address_they_resolve_to() {
    let open = egress(&["http://*:*"]);
    let message = open
        .vet(
            Capability::Http,
            "localhost",
            "127.0.0.1".parse().expect("ip"),
            None,
        )
        .expect_err("a wildcard does not name localhost")
        .to_string();
    assert!(
        message.starts_with(
            "tester is not granted http to localhost (it resolves to 127.0.0.1, a loopback address"
        ),
        "{message}"
    );
    assert!(
        open.vet(
            Capability::Http,
            "example.com",
            "93.184.216.34".parse().expect("ip"),
            None
        )
        .is_ok()
    );
    let local = egress(&["http://localhost:*"]);
    assert!(
        local
            .vet(
                Capability::Http,
                "localhost",
                "::1".parse().expect("ip"),
                None
            )
            .is_ok()
    );
    assert!(
        local
            .vet(
                Capability::Http,
                "localhost",
                "10.0.0.1".parse().expect("ip"),
                None
            )
            .is_err(),
        "localhost means loopback only"
    );
    let named = egress(&["http://metadata.internal"]);
    assert!(
        named
            .vet(
                Capability::Http,
                "metadata.internal",
                "169.254.169.254".parse().expect("ip"),
                None
            )
            .is_err(),
        "a name is never trusted with an inner address"
    );
}

#[test]
fn user_info_and_foreign_schemes_are_refused() {
    let open = egress(&["http://*:*", "ws://*:*"]);
    let message = refused(open.parse(Capability::Http, "http://user:pw@example.com/"));
    assert!(
        message.starts_with("tester is not granted http to http://example.com:80 with user info"),
        "{message}"
    );
    assert!(refused(open.parse(Capability::Http, "http://:pw@example.com/")).contains("user info"));
    assert!(matches!(
        open.parse(Capability::Http, "ws://example.com/"),
        Err(Refusal::NotAUrl(_))
    ));
    assert!(matches!(
        open.parse(Capability::Websocket, "http://example.com/"),
        Err(Refusal::NotAUrl(_))
    ));
    assert!(
        open.parse(Capability::Websocket, "ws://example.com/")
            .is_ok()
    );
}

#[test]
fn the_backslash_trick_is_checked_as_the_host_it_really_reaches() {
    let allowed = egress(&["http://allowed.example"]);
    let message = refused(allowed.parse(
        Capability::Http,
        "http://127.0.0.1:9\\@allowed.example/latest/meta-data",
    ));
    assert_eq!(
        message,
        "tester is not granted http/http://127.0.0.1:9 in plugins.toml"
    );
}
