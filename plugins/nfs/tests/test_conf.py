"""ganesha.conf rendering, client specs, clashes, Ganesha's log and the client sources, without a
server."""

from __future__ import annotations

from pathlib import Path

import pytest
from sigmavault_nfs.clients import parse_proc_tcp, parse_record, v4_clients
from sigmavault_nfs.conf import (
    ClientRule,
    Export,
    ExportClash,
    GaneshaSettings,
    check_exports,
    client_spec,
    config_problems,
    render,
)
from sigmavault_nfs.models import NfsOptions

DATA = Path(__file__).parent / "data"
SETTINGS = GaneshaSettings(data_dir=Path("/var/lib/sv/nfs"), port=20490, bind_addr="127.0.0.1",
                           grace_period=0)
EVERYBODY = (ClientRule(("*",), "rw"),)


@pytest.mark.parametrize("spec,normal", [
    ("*", "*"), ("10.0.0.0/8", "10.0.0.0/8"), ("192.168.1.7", "192.168.1.7"),
    ("fe80::/10", "fe80::/10"), ("::1", "::1"), ("Host-A.example.com", "host-a.example.com"),
    ("*.lan", "*.lan"), ("nas?.home", "nas?.home")])
def test_client_specs_accepted(spec: str, normal: str) -> None:
    assert client_spec(spec) == normal


@pytest.mark.parametrize("spec", ["10.0.0.1/24", "10.0.0.0/33", "300.1.1.1", "1.2.3", "a..b",
                                  "host_name", "bad host", "-lead.example", "10.0.0.0/8x", "",
                                  "fe80::/129", "x" * 254, "@netgroup", "a;b", '"quoted"',
                                  "10.0.0.0/8/", "1.2.3.4 # comment"])
def test_client_specs_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        client_spec(spec)


def test_render_one_export() -> None:
    e = Export(7, Path("/pools/tank/vol/team"), "/team", (
        ClientRule(("10.0.0.9",), "none"), ClientRule(("10.0.0.0/8",), "rw"),
        ClientRule(("*",), "ro")), squash="all", anon_uid=3001, anon_gid=100, share="team")
    text = render(SETTINGS, [e])
    assert "NFS_Port = 20490;" in text and "Bind_Addr = 127.0.0.1;" in text
    assert "Protocols = 4;" in text and "Enable_NLM = false;" in text
    assert "Graceless = true;" in text and "Grace_Period" not in text
    assert 'RecoveryRoot = "/var/lib/sv/nfs/recovery";' in text
    block = text[text.index("EXPORT {"):]
    assert 'Path = "/pools/tank/vol/team";' in block and 'Pseudo = "/team";' in block
    assert "Export_Id = 7;" in block and "Access_Type = None;" in block
    assert "Squash = All_Squash;" in block and "Anonymous_Uid = 3001;" in block
    # client rules in order, each its own block; unquoted (a quoted one is no client)
    assert block.index("Clients = 10.0.0.9;") < block.index("Clients = 10.0.0.0/8;") < \
        block.index("Clients = *;")
    assert "Access_Type = RW;" in block and "Access_Type = RO;" in block
    assert "SecType = sys;" in block and "Transports = TCP;" in block


def test_snapshots_and_read_only_shares_are_never_writable() -> None:
    snap = Export(2, Path("/pools/tank/.snapshots/vol/s1/team"), "/.snapshots/team/s1",
                  EVERYBODY, share="team", snapshot="s1")
    ro = Export(3, Path("/p"), "/ro", EVERYBODY, read_only=True, share="ro")
    text = render(SETTINGS, [snap, ro])
    assert "Access_Type = RW;" not in text and text.count("Access_Type = RO;") == 2
    assert 'Tag = "team@s1";' in text


def test_nfsv3_turns_on_nlm() -> None:
    text = render(GaneshaSettings(data_dir=Path("/d"), versions=(3, 4), grace_period=90), [])
    assert "Protocols = 3, 4;" in text and "Enable_NLM = true;" in text
    assert "Graceless = false;" in text and "Grace_Period = 90;" in text


def test_clashes() -> None:
    a = Export(1, Path("/a"), "/a", EVERYBODY, share="a")
    with pytest.raises(ExportClash, match="used by a and b"):
        check_exports([a, Export(2, Path("/b"), "/a", EVERYBODY, share="b")])
    with pytest.raises(ExportClash, match="inside export /a"):
        check_exports([a, Export(2, Path("/b"), "/a/b", EVERYBODY, share="b")])
    with pytest.raises(ExportClash, match="id 1"):
        check_exports([a, Export(1, Path("/b"), "/b", EVERYBODY, share="b")])
    with pytest.raises(ValueError, match="cannot be written"):
        check_exports([Export(1, Path('/a"b'), "/a", EVERYBODY)])
    # the same folder twice, or one folder inside another: Ganesha serves both (probed)
    check_exports([a, Export(2, Path("/a"), "/b", EVERYBODY), Export(3, Path("/a/c"), "/c",
                                                                     EVERYBODY)])


def test_config_problems_from_a_real_log() -> None:
    problems = config_problems((DATA / "ganesha-4.3-refused-export.log").read_text())
    assert problems, "the refused export is found"
    assert "LOOKUP .snapshots failed" in problems[0].message
    assert not any("DBUS" in p.line or "keytab" in p.line or "Cannot register" in p.line
                   for p in problems)


def test_options_need_anon_user_for_squash_all() -> None:
    with pytest.raises(ValueError, match="anon_user"):
        NfsOptions.model_validate({"squash": "all"})
    assert NfsOptions.model_validate({}).clients is None


def test_proc_net_tcp() -> None:
    text = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
        "   0: 0100007F:4F12 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n"
        "   1: 0100007F:4F12 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0\n"
        "   2: 0100007F:4F13 0100007F:C351 01 00000000:00000000 00:00000000 00000000     0\n")
    conns = parse_proc_tcp(text, 0x4F12)
    assert [(c.address, c.port) for c in conns] == [("127.0.0.1", 0xC350)]
    six = ("  sl  local_address                         remote_address                        st\n"
           "   0: 0000000000000000FFFF00000100007F:4F12 0000000000000000FFFF00000100007F:A000 01\n")
    assert [(c.address, c.port) for c in parse_proc_tcp(six, 0x4F12)] == [("127.0.0.1",
                                                                            0xA000)]


def test_recovery_records(tmp_path: Path) -> None:
    rec = parse_record("::ffff:127.0.0.1-(25:Libnfs pid:672 1796582366)")
    assert rec is not None and rec.address == "127.0.0.1"
    assert rec.owner == "Libnfs pid:672 1796582366"
    node = tmp_path / "v4recov" / "node0"
    node.mkdir(parents=True)
    (node / "::ffff:10.0.0.5-(20:Linux NFSv4.2 client)").mkdir()
    (node / "junk").mkdir()
    assert [(c.address, c.owner) for c in v4_clients(tmp_path)] == [
        ("10.0.0.5", "Linux NFSv4.2 client")]
