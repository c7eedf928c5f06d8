"""/admin → Units and officers: the tree, officers per unit, inbox status, invites and revocation; unit
admins get the same screens for their subtree only; forged presses are refused."""

from __future__ import annotations

from sqlalchemy import select, update

from bot.services import officers, units
from db.models import AuditLog, Grievance, Officer, OfficerRole, Unit
from handlers import admin_units as admin_units_handlers
from tests.support.harness import buttons_of, data_of, t
from tests.test_cli import congdoan
from tests.transcripts.test_mydata import file_case, member_of, officer_with_inbox, ready_member


async def unit_id(harness, code) -> int:
    async with harness.session_factory() as session:
        return (await units.get_unit_by_code(session, code)).id


async def an_admin(harness):
    admin = harness.user("Quản trị")
    async with harness.session_factory() as session:
        await officers.add_admin(session, admin.id, "test")
    return admin


async def open_units(harness, user) -> dict:
    hub = await harness.reply_to(user, "/admin")
    await harness.press(user, hub, data_of(hub, t("vi", "units.section")))
    return await harness.next(user)


async def test_an_admin_walks_the_tree_invites_and_revokes(harness):
    officer, _ = await officer_with_inbox(harness, "CDCS-MAYSH")
    admin = await an_admin(harness)
    top = await open_units(harness, admin)
    assert top["text"] == t("vi", "units.title")
    await harness.press(admin, top, data_of(top, "Tổng Liên đoàn"))
    screen = await harness.next(admin)
    for name in ("Liên đoàn Lao động Thành phố Hà Nội", "Công đoàn phường Long Biên",
                 "Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội"):
        await harness.press(admin, screen, data_of(screen, name[:40]))
        screen = await harness.next(admin)
    assert screen["text"].startswith("🏢 Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội (CDCS-MAYSH)")
    assert t("vi", "units.inbox_yes") in screen["text"]

    # Invite from the screen; the link makes its first user an officer.
    await harness.press(admin, screen, data_of(screen, t("vi", "units.invite_officer")))
    invite = await harness.next(admin)
    link = invite["text"].split("\n")[1]
    assert link.startswith("https://t.me/congdoan_test_bot?start=officer-")
    newcomer = harness.user("Tâm")
    accepted = await harness.reply_to(newcomer, "/start " + link.rsplit("start=", 1)[1])
    assert accepted["text"] == t("vi", "invite.accepted", unit="Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội")

    # The officers: revoke one, after a confirmation.
    await harness.press(admin, invite, data_of(invite, t("vi", "units.back")))
    screen = await harness.next(admin)
    await harness.press(admin, screen, data_of(screen, "👥"))
    listing = await harness.next(admin)
    assert "Hùng Trần" in listing["text"] and "Tâm" in listing["text"]
    hung = await member_of(harness, officer)
    async with harness.session_factory() as session:
        hung_role = await session.scalar(select(Officer).where(Officer.member_id == hung.id))
        worker = harness.user("Lan")
        grievance = await file_case(harness, await ready_member(harness, worker))
        g = await session.get_one(Grievance, grievance.id)
        g.holder_member_id = hung.id
        await session.commit()
    await harness.press(admin, listing, f"adm:un:r:{hung_role.id}")
    confirm = await harness.next(admin)
    assert "Hùng Trần" in confirm["text"] and t("vi", "units.revoke_yes") in [x for x, _ in buttons_of(confirm)]
    await harness.press(admin, confirm, f"adm:un:R:{hung_role.id}")
    after = await harness.next(admin)
    assert after["text"].startswith(t("vi", "units.revoked", name="Hùng Trần"))
    assert "Hùng" not in after["text"].split("\n", 2)[2]
    told = await harness.next(officer)
    assert told["text"] == t("vi", "units.you_were_revoked", unit="Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội")
    async with harness.session_factory() as session:
        assert (await session.get_one(Officer, hung_role.id)).revoked_at is not None
        assert (await session.get_one(Grievance, grievance.id)).holder_member_id is None  # free to claim again
        assert await session.scalar(select(AuditLog.id).where(AuditLog.action == "officer.revoked")) is not None
    # A second press on the old confirmation does nothing more.
    query = await harness.press(admin, confirm, f"adm:un:R:{hung_role.id}", force=True)
    assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "input.stale_button")


async def test_a_unit_admin_manages_only_their_subtree(harness):
    ward_admin = harness.user("Phường")
    async with harness.session_factory() as session:
        invite = await officers.create_invite(session, await units.get_unit_by_code(session, "CDP-LONGBIEN"), "test",
                                              OfficerRole.UNIT_ADMIN)
    await harness.reply_to(ward_admin, f"/start officer-{invite.token}")
    own = await harness.reply_to(ward_admin, "/admin")  # not an admin: /admin opens their unit
    assert own["text"].startswith("🏢 Công đoàn phường Long Biên (CDP-LONGBIEN)")
    assert t("vi", "units.up") not in [text for text, _ in buttons_of(own)]  # the federation is not theirs
    await harness.press(ward_admin, own, data_of(own, "Công đoàn cơ sở Công ty TNHH May"))
    below = await harness.next(ward_admin)
    assert "CDCS-MAYSH" in below["text"]
    await harness.press(ward_admin, below, data_of(below, t("vi", "units.invite_admin")))
    assert "start=officer-" in (await harness.next(ward_admin))["text"]

    # Forged presses outside the subtree: another province, the parent, an officer elsewhere.
    outsider, _ = await officer_with_inbox(harness, "LDLD-HCM", first_name="Sài", last_name="Gòn")
    outsider_role = (await member_of(harness, outsider)).id
    async with harness.session_factory() as session:
        role = await session.scalar(select(Officer).where(Officer.member_id == outsider_role))
    for data in (f"adm:un:u:{await unit_id(harness, 'LDLD-HCM')}:0", f"adm:un:u:{await unit_id(harness, 'LDLD-HN')}:0",
                 f"adm:un:o:{await unit_id(harness, 'LDLD-HCM')}", f"adm:un:io:{await unit_id(harness, 'VGCL')}",
                 f"adm:un:r:{role.id}", f"adm:un:R:{role.id}", "adm:un:m", "adm:un:um:1", "adm:un:u:x:0",
                 "adm:un:R:99999"):
        query = await harness.press(ward_admin, below, data, force=True)
        assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "input.stale_button"), data
    async with harness.session_factory() as session:
        assert (await session.get_one(Officer, role.id)).revoked_at is None
        invites = (await session.scalars(select(AuditLog.detail).where(AuditLog.action == "invite.created"))).all()
        assert all(detail["unit"] != "VGCL" for detail in invites)


async def test_workers_and_plain_officers_are_refused(harness):
    officer, _ = await officer_with_inbox(harness, "CDCS-MAYSH")
    worker = harness.user("Lan")
    for person in (worker, officer):
        refused = await harness.reply_to(person, "/admin")
        assert refused["text"] == t("vi", "admin.not_allowed")
        query = await harness.press(person, refused, "adm:un:top:0", force=True)
        assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "admin.not_allowed")


async def test_officer_revoke_and_list_on_the_command_line(harness, db_url):
    officer, _ = await officer_with_inbox(harness, "CDCS-MAYSH")
    async with harness.session_factory() as session:
        unused = await officers.create_invite(session, await units.get_unit_by_code(session, "CDCS-MAYSH"), "test")
        role = await session.scalar(select(Officer).where(Officer.member_id == (await member_of(harness, officer)).id))
    listed = congdoan("officer", "list", "CDCS-MAYSH", db_url=db_url)
    assert listed.returncode == 0 and f"{role.id}\tofficer\tHùng Trần" in listed.stdout
    link = f"https://t.me/congdoan_test_bot?start=officer-{unused.token}"
    assert congdoan("officer", "revoke", link, db_url=db_url).returncode == 0
    assert congdoan("officer", "revoke", unused.token, db_url=db_url).returncode == 1  # already revoked
    assert congdoan("officer", "revoke", str(role.id), db_url=db_url).returncode == 0
    assert congdoan("officer", "revoke", "no-such-thing", db_url=db_url).returncode == 1
    refused = await harness.reply_to(harness.user("Tâm"), f"/start officer-{unused.token}")
    assert refused["text"] == t("vi", "invite.revoked")
    async with harness.session_factory() as session:
        assert (await session.get_one(Officer, role.id)).revoked_at is not None


# ----- finding a unit by name or code -----

async def add_units(harness, parent_code, names) -> None:
    """Units below parent_code, named as given, coded TEST-<n> in order."""
    async with harness.session_factory() as session:
        parent = await units.get_unit_by_code(session, parent_code)
        taken = len((await session.scalars(select(Unit.id))).all())
        for number, name in enumerate(names, start=taken):
            session.add(Unit(code=f"TEST-{number}", name=name, level=min(parent.level + 1, 4), parent_id=parent.id))
        await session.commit()


async def search(harness, user, screen, typed) -> dict:
    await harness.press(user, screen, data_of(screen, t("vi", "units.search_button")))
    asked = await harness.next(user)
    assert asked["text"] == t("vi", "units.search_ask")
    return await harness.reply_to(user, typed)


def unit_buttons(message) -> list[tuple[str, str]]:
    return [(text, data) for text, data in buttons_of(message) if data.startswith("adm:un:u:")]


async def test_an_admin_finds_units_with_or_without_diacritics_and_pages_through_them(harness):
    await add_units(harness, "VGCL", ["Liên đoàn Lao động Thành phố Đà Nẵng"])
    await add_units(harness, "LDLD-HN", [f"Công đoàn cơ sở Công ty Cảng Đà Nẵng số {n}" for n in range(1, 12)])
    admin = await an_admin(harness)
    top = await open_units(harness, admin)

    found = await search(harness, admin, top, "Da Nang")
    assert found["text"] == t("vi", "units.search_found", typed="Da Nang", total=12)
    first_page = unit_buttons(found)
    assert len(first_page) == 8
    assert first_page[0][0].startswith("Liên đoàn Lao động Thành phố Đà Nẵng")  # the broader unit first
    await harness.press(admin, found, data_of(found, "›"))
    second = await harness.next(admin)
    assert second["message_id"] == found["message_id"] and second["text"] == found["text"]
    assert len(unit_buttons(second)) == 4 and not set(unit_buttons(second)) & set(first_page)

    # Typed again right away (still searching): with the marks, in capitals, decomposed (NFD), by code.
    for typed in ("ĐÀ NẴNG", "đà nẵng", "\u0110a\u0300 N\u0103\u0303ng"):
        again = await harness.reply_to(admin, typed)
        assert again["text"].startswith("🔍") and len(unit_buttons(again)) == 8, typed
    by_code = await harness.reply_to(admin, "cdcs-maysh")
    assert [text for text, _ in unit_buttons(by_code)] == [
        "Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội · CDCS-MAYSH"]
    typo = await harness.reply_to(admin, "Song Hongg")  # a typo in a longer word is forgiven
    assert "CDCS-MAYSH" in unit_buttons(typo)[0][0]
    none = await harness.reply_to(admin, "Cà Mau")
    assert none["text"] == t("vi", "units.search_none", typed="Cà Mau") and unit_buttons(none) == []

    # Picking a result opens the unit; the tree works from there, and typed text is no longer a search.
    found = await harness.reply_to(admin, "long bien")
    await harness.press(admin, found, data_of(found, "CDP-LONGBIEN"))
    unit = await harness.next(admin)
    assert unit["text"].startswith("🏢 Công đoàn phường Long Biên (CDP-LONGBIEN)")
    await harness.press(admin, unit, data_of(unit, t("vi", "units.up")))
    assert (await harness.next(admin))["text"].startswith("🏢 Liên đoàn Lao động Thành phố Hà Nội")
    library = await harness.reply_to(admin, "long bien")
    assert not library["text"].startswith("🔍 ")


async def test_many_matches_are_cut_short_and_other_messages_are_answered(harness):
    await add_units(harness, "LDLD-HCM", [f"Công đoàn cơ sở Công ty May Sài Gòn {n}" for n in range(50)])
    admin = await an_admin(harness)
    top = await open_units(harness, admin)
    found = await search(harness, admin, top, "sai gon")
    assert found["text"] == t("vi", "units.search_many", typed="sai gon", total=50, shown=40)
    assert [text for text, _ in buttons_of(found) if "/" in text] == ["1/5"]
    await harness.emulator.send_sticker(admin)
    assert (await harness.next(admin))["text"] == t("vi", "units.search_text_only")
    too_long = await harness.reply_to(admin, "x" * 101)
    assert too_long["text"] == t("vi", "input.too_long", limit=100)
    for forged in ("adm:un:sp:x", "adm:un:sp:1234567890", "adm:un:sp:²", "adm:un:s:1", "adm:un:sp:1:2"):
        query = await harness.press(admin, found, forged, force=True)
        assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "input.stale_button"), forged
    # A command ends the search: the next words are not looked up in units.
    await harness.reply_to(admin, "/help")
    assert not (await harness.reply_to(admin, "sai gon"))["text"].startswith("🔍 ")


async def test_a_unit_admin_finds_only_units_in_their_subtree(harness):
    await add_units(harness, "CDP-LONGBIEN", ["Công đoàn cơ sở Công ty Xe khách Đà Nẵng Long Biên"])
    await add_units(harness, "LDLD-HN", ["Công đoàn cơ sở Nhà máy Đà Nẵng Hà Nội"])
    await add_units(harness, "VGCL", ["Liên đoàn Lao động Thành phố Đà Nẵng"])
    ward_admin = harness.user("Phường")
    async with harness.session_factory() as session:
        invite = await officers.create_invite(session, await units.get_unit_by_code(session, "CDP-LONGBIEN"), "test",
                                              OfficerRole.UNIT_ADMIN)
    await harness.reply_to(ward_admin, f"/start officer-{invite.token}")
    own = await harness.reply_to(ward_admin, "/admin")

    found = await search(harness, ward_admin, own, "da nang")
    assert len(unit_buttons(found)) == 1 and "Xe khách Đà Nẵng" in unit_buttons(found)[0][0]
    for typed in ("Ha Noi", "LDLD-HN", "VGCL", "Thu Duc", "Lien doan"):  # all outside their subtree
        outside = await harness.reply_to(ward_admin, typed)
        assert all(not any(code in text for code in ("LDLD", "VGCL", "CDP-THUDUC", "Nhà máy"))
                   for text, _ in unit_buttons(outside)), typed
    nothing = await harness.reply_to(ward_admin, "Thu Duc")
    assert nothing["text"] == t("vi", "units.search_none", typed="Thu Duc")
    mine = await harness.reply_to(ward_admin, "may song hong")
    assert [data for _, data in unit_buttons(mine)] == [f"adm:un:u:{await unit_id(harness, 'CDCS-MAYSH')}:0"]

    # A forged result outside the subtree is refused like any other forged press.
    query = await harness.press(ward_admin, mine, f"adm:un:u:{await unit_id(harness, 'LDLD-HN')}:0", force=True)
    assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "input.stale_button")
    # After losing the role, typed words are no longer looked up in units.
    async with harness.session_factory() as session:
        await session.execute(update(Officer).values(revoked_at=Officer.created_at))
        await session.commit()
    assert not (await harness.reply_to(ward_admin, "may song hong"))["text"].startswith("🔍 ")


async def test_a_search_left_waiting_ends_after_a_while(harness):
    """An admin who walked away from a search: their words days later are not a unit search."""
    admin = await an_admin(harness)
    top = await open_units(harness, admin)
    found = await search(harness, admin, top, "long bien")
    assert found["text"].startswith("🔍 ")
    waiting = harness.application.user_data[admin.id][admin_units_handlers.SEARCH]
    waiting["at"] -= admin_units_handlers.SEARCH_WAIT + 1
    assert not (await harness.reply_to(admin, "long bien"))["text"].startswith("🔍 ")
