"""Dialogs (UAC and UAS) driven through two transaction layers, in-dialog builders, validation, bodies."""

from __future__ import annotations

from ivr.sip import Headers, Request, make_response, new_branch, parse_message
from ivr.sip.bodies import dtmf_relay_body, parse_dtmf_info, parse_sipfrag, sipfrag
from ivr.sip.dialog import Dialog, DialogStore, LocalEndpoint
from ivr.sip.events import AckReceived, Address, Event, RequestReceived, ResponseReceived, Transmit
from ivr.sip.transaction import TransactionLayer

UAC_ADDR: Address = ("127.0.0.1", 5062)
UAS_ADDR: Address = ("127.0.0.1", 5060)
UAC_EP = LocalEndpoint("127.0.0.1", 5062, contact="sip:agent@127.0.0.1:5062")
UAS_EP = LocalEndpoint("127.0.0.1", 5060, contact="sip:12345@127.0.0.1:5060")


def initial_invite() -> Request:
    headers = Headers()
    headers.add("Via", UAC_EP.via())
    headers.add("Max-Forwards", "70")
    headers.add("From", '"Agent" <sip:agent@127.0.0.1>;tag=uac1')
    headers.add("To", "<sip:12345@127.0.0.1>")
    headers.add("Call-ID", "dlg-1@127.0.0.1")
    headers.add("CSeq", "10 INVITE")
    headers.add("Contact", f"<{UAC_EP.contact_uri}>")
    headers.add("Record-Route", "<sip:proxy1.example;lr>, <sip:proxy2.example;lr>")
    return Request("INVITE", "sip:12345@127.0.0.1:5060", headers, b"")


class Wire:
    """Delivers every Transmit instantly to the layer at its destination; collects the other events."""

    def __init__(self) -> None:
        self.layers = {UAC_ADDR: TransactionLayer(), UAS_ADDR: TransactionLayer()}
        self.events: dict[Address, list[Event]] = {UAC_ADDR: [], UAS_ADDR: []}
        self.now = 0.0

    def pump(self, src: Address, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Transmit):
                # both ends share 127.0.0.1; route by port
                dest = UAS_ADDR if event.dest[1] == 5060 else UAC_ADDR
                self.pump(dest, self.layers[dest].receive_bytes(event.data, src, self.now))
            else:
                self.events[src].append(event)

    def last(self, addr: Address, kind: type) -> Event:
        return [e for e in self.events[addr] if isinstance(e, kind)][-1]


def test_uac_uas_call_setup_ack_and_bye() -> None:
    wire = Wire()
    uac_layer, uas_layer = wire.layers[UAC_ADDR], wire.layers[UAS_ADDR]
    invite = initial_invite()
    _, events = uac_layer.send_request(invite, UAS_ADDR, 0.0)
    wire.pump(UAC_ADDR, events)
    received = wire.last(UAS_ADDR, RequestReceived)
    assert isinstance(received, RequestReceived)
    uas_store = DialogStore()
    uas_dialog = Dialog.from_uas(received.request, "uas1", UAS_EP, local_cseq=500)
    uas_store.add(uas_dialog)
    assert uas_dialog.route_set == ["<sip:proxy1.example;lr>", "<sip:proxy2.example;lr>"]
    assert uas_dialog.remote_target == "sip:agent@127.0.0.1:5062" and uas_dialog.remote_cseq == 10
    ok = make_response(received.request, 200, to_tag="uas1", headers=[
        ("Contact", f"<{UAS_EP.contact_uri}>"), ("Record-Route", "<sip:proxy1.example;lr>, <sip:proxy2.example;lr>")])
    wire.pump(UAS_ADDR, uas_layer.send_response(ok, 0.0))
    resp = wire.last(UAC_ADDR, ResponseReceived)
    assert isinstance(resp, ResponseReceived) and resp.response.status == 200
    uac_dialog = Dialog.from_uac(invite, resp.response, UAC_EP)
    assert uac_dialog.id == ("dlg-1@127.0.0.1", "uac1", "uas1")
    assert uac_dialog.route_set == ["<sip:proxy2.example;lr>", "<sip:proxy1.example;lr>"]  # reversed for UAC
    assert uac_dialog.next_hop() == "sip:proxy2.example;lr" and uac_dialog.destination() == ("proxy2.example", 5060)
    ack = uac_dialog.ack(invite.cseq[0])
    assert ack.cseq == (10, "ACK") and ack.top_via.branch != invite.top_via.branch
    assert ack.uri == "sip:12345@127.0.0.1:5060" and ack.headers.get_all("Route")[0] == "<sip:proxy2.example;lr>"
    wire.pump(UAC_ADDR, uac_layer.send_stateless(ack, UAS_ADDR))
    acked = wire.last(UAS_ADDR, AckReceived)
    assert isinstance(acked, AckReceived) and acked.invite.call_id == "dlg-1@127.0.0.1"
    assert uas_store.check_request(acked.ack) == (uas_dialog, None)
    # The UAS hangs up: BYE goes to the caller's Contact through the route set.
    bye = uas_dialog.bye("Q.850;cause=16")
    assert bye.cseq == (501, "BYE") and bye.uri == "sip:agent@127.0.0.1:5062"
    assert bye.to_tag == "uac1" and bye.from_tag == "uas1" and uas_dialog.state == "terminated"
    uac_store = DialogStore()
    uac_store.add(uac_dialog)
    _, events = uas_layer.send_request(bye, UAC_ADDR, 1.0)
    wire.pump(UAS_ADDR, events)
    got_bye = wire.last(UAC_ADDR, RequestReceived)
    assert isinstance(got_bye, RequestReceived) and got_bye.request.method == "BYE"
    dialog, error = uac_store.check_request(got_bye.request)
    assert dialog is uac_dialog and error is None and uac_dialog.remote_cseq == 501
    wire.pump(UAC_ADDR, uac_layer.send_response(make_response(got_bye.request, 200), 1.0))
    final = wire.last(UAS_ADDR, ResponseReceived)
    assert isinstance(final, ResponseReceived) and (final.response.status, final.request.method) == (200, "BYE")


def make_dialog() -> Dialog:
    invite = initial_invite()
    invite.headers.remove("Record-Route")
    return Dialog.from_uas(invite, "uas1", UAS_EP, local_cseq=1)


def test_in_dialog_validation_500_and_481() -> None:
    dialog = make_dialog()
    store = DialogStore()
    store.add(dialog)
    info = Request("INFO", "sip:12345@127.0.0.1", make_dialog_headers("INFO", 11), b"")
    assert store.check_request(info) == (dialog, None) and dialog.remote_cseq == 11
    old = Request("INFO", "sip:12345@127.0.0.1", make_dialog_headers("INFO", 9), b"")
    _, error = store.check_request(old)
    assert error is not None and (error.status, error.reason) == (500, "CSeq Out of Order")
    assert error.headers.get("Retry-After") == "1" and error.to_tag == "uas1"
    stranger = Request("BYE", "sip:12345@127.0.0.1", make_dialog_headers("BYE", 12, to_tag="nope"), b"")
    found, error = store.check_request(stranger)
    assert found is None and error is not None and error.status == 481
    assert error.reason == "Call/Transaction Does Not Exist"
    # A re-INVITE with a new Contact refreshes the remote target.
    reinvite = Request("INVITE", "sip:12345@127.0.0.1", make_dialog_headers("INVITE", 13), b"")
    reinvite.headers.set("Contact", "<sip:agent@192.0.2.9:5070>")
    assert store.check_request(reinvite)[1] is None and dialog.remote_target == "sip:agent@192.0.2.9:5070"


def make_dialog_headers(method: str, cseq: int, to_tag: str = "uas1") -> Headers:
    headers = Headers()
    headers.add("Via", f"SIP/2.0/UDP 127.0.0.1:5062;branch={new_branch()}")
    headers.add("From", "<sip:agent@127.0.0.1>;tag=uac1")
    headers.add("To", f"<sip:12345@127.0.0.1>;tag={to_tag}")
    headers.add("Call-ID", "dlg-1@127.0.0.1")
    headers.add("CSeq", f"{cseq} {method}")
    return headers


def test_refer_notify_info_reinvite_builders() -> None:
    dialog = make_dialog()
    refer = dialog.refer("sip:agent2@127.0.0.1:5064")
    assert refer.headers.get("Refer-To") == "<sip:agent2@127.0.0.1:5064>"
    assert refer.headers.get("Referred-By") == "<sip:12345@127.0.0.1>"
    assert refer.headers.get("Contact") == "<sip:12345@127.0.0.1:5060>" and refer.cseq == (2, "REFER")
    notify = dialog.notify("refer", "terminated;reason=noresource", sipfrag(200, "OK"))
    wire = parse_message(notify.to_bytes())
    assert wire.headers.get("Event") == "refer" and wire.content_type == "message/sipfrag"
    assert parse_sipfrag(wire.body) == (200, "OK") and notify.cseq == (3, "NOTIFY")
    info = dialog.info(dtmf_relay_body("#", 250))
    assert parse_dtmf_info(info.headers.get("Content-Type") or "", info.body) == ("#", 250)
    reinvite = dialog.reinvite(b"v=0\r\n")
    assert reinvite.cseq == (5, "INVITE") and reinvite.content_type == "application/sdp"
    assert isinstance(parse_message(reinvite.to_bytes()), Request)


def test_strict_route_set_rewrites_request_uri() -> None:
    dialog = make_dialog()
    dialog.route_set = ["<sip:strict.example>", "<sip:loose.example;lr>"]
    bye = dialog.bye()
    assert bye.uri == "sip:strict.example"
    assert bye.headers.get_all("Route") == ["<sip:loose.example;lr>", "<sip:agent@127.0.0.1:5062>"]


def test_early_dialog_confirmed_by_2xx() -> None:
    invite = initial_invite()
    ringing = make_response(invite, 180, to_tag="uas1", headers=[("Contact", "<sip:early@127.0.0.1>")])
    dialog = Dialog.from_uac(invite, ringing, UAC_EP)
    assert dialog.state == "early" and dialog.remote_target == "sip:early@127.0.0.1"
    ok = make_response(invite, 200, to_tag="uas1", headers=[("Contact", "<sip:final@127.0.0.1>")])
    dialog.confirm(ok)
    assert dialog.state == "confirmed" and dialog.remote_target == "sip:final@127.0.0.1" and dialog.route_set == []


def test_dtmf_info_bodies() -> None:
    assert parse_dtmf_info("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n") == ("5", 160)
    assert parse_dtmf_info("application/dtmf-relay", b"Signal= 11\nDuration=100") == ("#", 100)
    assert parse_dtmf_info("application/dtmf", b"*") == ("*", 0)
    assert parse_dtmf_info("application/dtmf-relay", b"Signal=X") is None
    assert parse_dtmf_info("text/plain", b"5") is None
    assert parse_sipfrag(b"garbage") is None
