from sqlalchemy import func, select

from bot.persistence import SqlPersistence
from db.models import ConversationState, StoredUserData
from db.session import create_session_factory


async def test_conversations_and_user_data_survive_a_new_instance(engine):
    factory = create_session_factory(engine)
    first = SqlPersistence(factory)
    await first.update_conversation("profile", (42, 42), "province")
    await first.update_conversation("profile", (7, 7), "sector")
    await first.update_user_data(42, {"flow": "onboarding", "page": 2})
    await first.flush()

    second = SqlPersistence(factory)
    assert await second.get_conversations("profile") == {(42, 42): "province", (7, 7): "sector"}
    assert await second.get_user_data() == {42: {"flow": "onboarding", "page": 2}}

    await second.update_conversation("profile", (7, 7), None)
    await second.update_user_data(42, {})
    await second.flush()
    third = SqlPersistence(factory)
    assert await third.get_conversations("profile") == {(42, 42): "province"}
    assert await third.get_user_data() == {}


async def test_one_row_per_conversation_key(engine):
    factory = create_session_factory(engine)
    persistence = SqlPersistence(factory)
    for state in ("language", "consent", "province"):
        await persistence.update_conversation("profile", (1, 1), state)
        await persistence.flush()
    async with factory() as session:
        assert await session.scalar(select(func.count()).select_from(ConversationState)) == 1


async def test_unchanged_data_is_not_written_again(engine):
    factory = create_session_factory(engine)
    persistence = SqlPersistence(factory)
    await persistence.update_user_data(5, {"a": 1})
    await persistence.flush()
    async with factory() as session:
        first_write = (await session.get(StoredUserData, 5)).updated_at
    await persistence.update_user_data(5, {"a": 1})
    assert persistence._pending == {}
    await persistence.flush()
    async with factory() as session:
        assert (await session.get(StoredUserData, 5)).updated_at == first_write
