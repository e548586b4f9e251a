"""What the command line prints for a person is in its language, as its errors and help pages
are (``core.cli_say``): ``retento --lang zh_CN``, the command's own ``--lang``, ``RETENTO_LANG``,
``LC_ALL`` / ``LC_MESSAGES`` / ``LANG``, the installation's default. English is what it always
was, byte for byte; machine output (JSON, CSV, ids, codes) is the same in both languages.

The last tests read the CLI modules' source: a new ``console.print("Some English")`` that does
not go through ``say`` fails here, and plain ``print`` (stdout a script reads) is allowed only
where it is listed as machine output."""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from retento.cli import app
from retento.core.config import get_settings
from retento.core.db import make_engine, make_session_factory, transaction
from retento.core.migrate import upgrade
from retento.loyalty import service as loyalty
from tests.factories import make_customer, make_user
from tests.factories.loyalty import make_programme

runner = CliRunner()
LANGUAGE_VARIABLES = ("RETENTO_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "RETENTO_DEFAULT_LOCALE")
CJK = re.compile("[\u4e00-\u9fff]")
# Two English words in a row: a sentence left untranslated (codes, file names and numbers are
# single words; the tests below use short, single-word file names).
ENGLISH_WORDS = re.compile(r"\b[A-Za-z]{2,}[ ,:;]+[A-Za-z]{2,}\b")
CUSTOMERS_CSV = "external_id,name,email,country\nn1,Ann,ann@example.com,US\nn2,Bo,x,DE\n"


def _one_line(output: str) -> str:
    """Rich wraps long lines at a space (a terminal of 80 columns): the text as one line."""
    return " ".join(output.split())


def _flat(output: str) -> str:
    """Without any whitespace: Rich wraps Chinese lines anywhere."""
    return re.sub(r"\s+", "", output)


def _says(result, *texts: str) -> None:
    for t in texts:
        assert _flat(t) in _flat(result.output), result.output


def _no_english(result) -> None:
    found = ENGLISH_WORDS.findall(result.output)
    assert not found, (found, result.output)


@pytest.fixture(scope="module")
def template_db(tmp_path_factory):
    """A migrated SQLite database with an admin, an active loyalty programme, a member with
    100 points and a customer who is not a member; copied for each test."""
    folder = tmp_path_factory.mktemp("cli_output")
    path = folder / "template.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as s:
        make_programme(s)
        admin = make_user(s, username="admin", role="admin", display_name="Admin")
        member = make_customer(s, name="Mia", external_id="M1")
        other = make_customer(s, name="Noor", external_id="N0")
        loyalty.adjust(s, member.id, 120, actor=admin, reason="welcome")
        loyalty.redeem(s, member.id, points=20, actor=admin)
        ids = {"member": member.id, "other": other.id}
    engine.dispose()
    return path, ids


@pytest.fixture
def cli(template_db, tmp_path, monkeypatch):
    """A fresh copy of the template database, the working folder a temporary one, and a clean
    language environment (``C``: decides nothing, so English)."""
    path, ids = template_db
    db = tmp_path / "cli.db"
    shutil.copy(path, db)
    for name in LANGUAGE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("RETENTO_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.delenv("RETENTO_SMTP_HOST", raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()

    def run(*args: str, lang: str | None = None):
        result = runner.invoke(app, ([] if lang is None else ["--lang", lang]) + list(args))
        assert result.exit_code == 0, result.output
        return result

    run.ids = ids  # type: ignore[attr-defined]
    run.db = db  # type: ignore[attr-defined]
    yield run
    get_settings.cache_clear()


# English: what it printed before, exactly


def test_english_lines_are_unchanged(cli):
    member = cli.ids["member"]
    assert cli("loyalty", "expire").output == "0 points expired.\n"
    assert cli("complaints", "export", "-o", "x.csv").output == "Wrote 0 complaint(s) to x.csv.\n"
    assert cli("export", "customers", "-o", "c.csv").output == (
        "Exported 2 customers row(s) to c.csv.\n"
    )
    archived = _one_line(cli("customers", "archive", str(member)).output)
    assert re.fullmatch(
        rf"Customer {member} is archived \(since \d{{4}}-\d\d-\d\d \d\d:\d\d UTC\)\.", archived
    ), archived
    assert cli("customers", "restore", str(member)).output == (
        f"Customer {member} is active again.\n"
    )
    assert cli("role", "create", "ops", "--permissions", "customer:read").output == (
        "Created role ops with 1 permission(s).\n"
    )
    assert cli("role", "delete", "ops").output == "Deleted role ops.\n"
    assert cli("mail", "send").output == (
        "Sending is disabled (RETENTO_SMTP_HOST is empty): 0 email(s) stay queued.\n"
    )
    balance = _one_line(cli("loyalty", "balance", str(member)).output)
    assert re.fullmatch(
        rf"Customer {member}: balance 100 \(available 100, debt 0\), tier —, 0 expiring by "
        r"\d{4}-\d\d-\d\d",
        balance,
    ), balance
    adjusted = cli("loyalty", "adjust", str(member), "5", "--reason", "goodwill").output
    assert re.fullmatch(r"Journal \d+ posted\.\n", adjusted), adjusted
    assert re.fullmatch(
        r"Ledger OK: \d+ accounts, \d+ journals, \d+ lots\.\n", cli("loyalty", "check").output
    )
    users = cli("user", "list").output
    assert "username" in users and "manager" in users and "yes" in users
    assert not CJK.search(users)


# Chinese: the same commands


@pytest.mark.parametrize(
    "how",
    ["option", "env"],
    ids=["retento --lang zh_CN", "LANG=zh_CN.UTF-8"],
)
def test_loyalty_in_chinese(cli, monkeypatch, how):
    lang = "zh_CN" if how == "option" else None
    if how == "env":
        monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    member = cli.ids["member"]
    r = cli("loyalty", "balance", str(member), lang=lang)
    _says(r, f"客户 {member}：积分余额 100（可用 100，欠分 0），等级 —，", "前将过期 0 积分")
    _no_english(r)
    r = cli("loyalty", "adjust", str(member), "-5", "--reason", "fix", lang=lang)
    assert re.fullmatch(r"积分凭证 \d+ 已记账。\n", r.output), r.output
    r = cli("loyalty", "redeem", str(member), "--points", "10", lang=lang)
    assert re.fullmatch(r"兑换 \d+：10 积分（积分凭证 \d+）。\n", r.output), r.output
    assert cli("loyalty", "expire", lang=lang).output == "0 积分已过期。\n"
    r = cli("loyalty", "check", lang=lang)
    assert re.fullmatch(r"账本正常：\d+ 个账户、\d+ 张积分凭证、\d+ 个积分批次。\n", r.output)
    r = cli("loyalty", "liability", lang=lang)
    _says(r, "未兑付 85 积分 =", "已兑换 30")
    _no_english(r)


def test_a_non_member_and_a_ledger_mismatch_in_chinese(cli):
    other = cli.ids["other"]
    r = runner.invoke(app, ["--lang", "zh_CN", "loyalty", "balance", str(other)])
    # An error like every other: its head in the language (before, a bare sentence).
    assert r.exit_code == 1 and r.output == f"错误：客户 {other} 不是会员。\n", r.output
    english = runner.invoke(app, ["loyalty", "balance", str(other)])
    assert english.exit_code == 1
    assert english.output == f"Error: Customer {other} is not a member.\n", english.output
    engine = make_engine(f"sqlite:///{cli.db}")
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE loyalty_accounts SET balance = balance + 5 WHERE customer_id IS NOT NULL")
        )
    engine.dispose()
    bad = runner.invoke(app, ["--lang", "zh_CN", "loyalty", "check"])
    assert bad.exit_code == 1
    # loyalty.check's English finding, rebuilt from its Chinese with the same values
    assert re.search(r"不一致：账户\d+：余额为105，但积分流水合计为100", _flat(bad.output))
    _no_english(bad)
    english = runner.invoke(app, ["loyalty", "check"])
    assert re.search(r"Mismatch: account \d+: balance 105 but postings sum to 100", english.output)


def test_import_report_in_chinese(cli):
    Path("c.csv").write_text(CUSTOMERS_CSV)
    r = cli("import", "customers", "c.csv", "--skip-invalid", lang="zh_CN")
    _says(
        r,
        "已从 c.csv 导入客户：读取 2 行；新建 1，更新 0，未变 0，拒绝 1，用时",
        "第 3 行，email 列：'x' 不是电子邮件地址",
        "被拒绝的行已写入 c.rejects.csv",
    )
    assert "完成" in r.output  # the progress bar's stage
    _no_english(r)
    Path("g.csv").write_text("external_id,name\nn3,Cy\n")
    english = _one_line(cli("import", "customers", "g.csv").output)
    assert english.startswith("done "), english  # the progress bar's stage, as before
    assert re.search(
        r"Imported customers from g\.csv: 1 row\(s\) read; 1 created, 0 updated, 0 unchanged, 0 "
        r"rejected in \d+\.\ds\.$",
        english,
    ), english


def test_exports_in_chinese(cli):
    r = cli("export", "customers", "-o", "c.csv", lang="zh_CN")
    assert r.output == "已将 2 行客户导出到 c.csv。\n"
    assert Path("c.csv").read_text(encoding="utf-8-sig").startswith("external_id,")  # machine
    r = cli("export", "order_lines", "-o", "l.csv", lang="zh_CN")
    assert r.output == "已将 0 行订单明细导出到 l.csv。\n"
    r = cli("complaints", "export", "-o", "x.csv", lang="zh_CN")
    assert r.output == "已将 0 条投诉写入 x.csv。\n"
    r = cli("loyalty", "export", "members", "-o", "m.csv", lang="zh_CN")
    assert r.output == "已将 1 行写入 m.csv。\n"


def test_customers_in_chinese(cli):
    member = cli.ids["member"]
    r = cli("customers", "archive", str(member), lang="zh_CN")
    assert re.fullmatch(
        rf"客户 {member} 已归档（自 \d{{4}}-\d\d-\d\d \d\d:\d\d UTC 起）。\n", r.output
    ), r.output
    assert cli("customers", "restore", str(member), lang="zh_CN").output == (
        f"客户 {member} 已恢复为有效。\n"
    )
    r = cli("customers", "search", "zzzz-nobody", lang="zh_CN")
    assert r.output == "没有匹配的客户。\n"
    # a match is a tab-separated line for scripts: the same in both languages
    found = cli("customers", "search", "Mia", lang="zh_CN").output
    assert found == cli("customers", "search", "Mia").output
    assert found.split()[:2] == [str(member), "Mia"] and found.split()[-1] == "exact"
    fields = cli("customers", "fields", lang="zh_CN").output
    assert "已启用" in fields and " active " not in fields
    assert " active " in cli("customers", "fields").output


def test_alerts_mail_users_and_roles_in_chinese(cli):
    r = cli("retention", "alerts", lang="zh_CN")
    _says(r, "0 条预警", "编号", "规则", "状态")
    _no_english(r)
    assert json.loads(cli("retention", "alerts", "--json", lang="zh_CN").output) == {
        "total": 0,
        "items": [],
    }
    r = cli("retention", "evaluate", lang="zh_CN")
    _says(r, "条规则发现", "个预警信号，新建 0 条预警")
    _no_english(r)
    assert cli("mail", "send", lang="zh_CN").output == (
        "发送已停用（RETENTO_SMTP_HOST 为空）：0 封邮件仍在排队。\n"
    )
    r = cli(
        "user", "create", "cy", "--role", "agent", "--password", "quiet-Harbour-77", lang="zh_CN"
    )
    assert re.fullmatch(r"已创建角色为 agent 的用户 cy（编号 \d+）。\n", r.output), r.output
    r = cli("user", "update", "cy", "--manager", "admin", lang="zh_CN")
    assert r.output == "已保存 cy：agent，已启用，上级经理 Admin。\n"  # the manager's name
    r = cli("user", "list", lang="zh_CN")
    _says(r, "用户名", "角色", "上级经理", "是")
    _no_english(r)
    r = cli("role", "create", "ops", "--permissions", "customer:read,complaint:read", lang="zh_CN")
    assert r.output == "已创建角色 ops，含 2 项权限。\n"
    r = cli("role", "list", lang="zh_CN")
    _says(r, "名称", "内置", "视同角色", "权限")
    assert "own" in r.output and "manager" in r.output  # codes stay codes
    # a word used as a column is not translated where it is a code (a choice in an error)
    bad = runner.invoke(app, ["--lang", "zh_CN", "role", "create", "x1", "--base-role", "admin"])
    assert "manager、agent、analyst" in _flat(bad.output), bad.output
    assert cli("role", "delete", "ops", lang="zh_CN").output == "已删除角色 ops。\n"


def test_the_database_and_worker_lines_in_chinese(cli):
    from alembic.script import ScriptDirectory

    from retento.core.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    r = cli("db", "upgrade", lang="zh_CN")
    _says(r, f"上的数据库已处于版本 {head}。")  # the revision itself, not "head"
    r = cli("worker", "--once", "--work-only", lang="zh_CN")
    assert r.output == "已运行 0 个作业：无；0 个后台任务。\n"
    assert cli("worker", "--once", "--work-only").output == "Ran 0 job(s): none; 0 work item(s).\n"


def test_serve_refuses_a_missing_key_in_chinese(cli, monkeypatch):
    monkeypatch.delenv("RETENTO_SECRET_KEY", raising=False)
    monkeypatch.delenv("RETENTO_PUBLIC_BASE_URL", raising=False)
    get_settings.cache_clear()
    r = runner.invoke(app, ["--lang", "zh_CN", "serve", "--port", "8123"])
    assert r.exit_code == 2, r.output
    # the warning of _public_base_url, then core.config's instructions from the catalogue
    _says(
        r,
        "警告：未设置 RETENTO_PUBLIC_BASE_URL",
        "错误：未设置 RETENTO_SECRET_KEY（或使用了公开的默认值）",
    )
    assert "retento serve --demo" in _one_line(r.output)  # the command to run, as it is
    assert "Set it to" not in r.output and "Warning" not in r.output
    english = runner.invoke(app, ["serve", "--port", "8123"])
    assert "Error: RETENTO_SECRET_KEY is not set (or is a published default)." in _one_line(
        english.output
    )


def test_analyze_follows_the_command_line_s_language(tmp_path, monkeypatch):
    for name in LANGUAGE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    lines = tmp_path / "lines.csv"
    lines.write_text("order,item\n1,a\n1,b\n2,a\n2,b\n3,a\n")
    args = ["analyze", "basket", str(lines), "--order-col", "order", "--item-col", "item"]
    out = tmp_path / "out.csv"
    english = runner.invoke(app, [*args, "--min-support", "0.5", "--output", str(out)])
    assert english.exit_code == 0, english.output
    assert english.output == f"3 baskets, 2 items: 3 itemsets written to {out}\n"
    monkeypatch.setenv("LC_ALL", "zh_CN.UTF-8")
    chinese = runner.invoke(app, [*args, "--min-support", "0.5", "--output", str(out)])
    assert chinese.output == f"3 个购物篮，2 种商品：3 个项集已写入 {out}\n"


# The source: no English line printed without `say`


SRC = Path(__file__).resolve().parent.parent / "src" / "retento"
# Where the text shown to a person is built; anything else in a print's arguments is a word.
SAID = {"say", "say_in", "say_shaped", "say_message", "say_label", "in_words", "translate",
        "error_head", "N_", "gettext", "json"}  # fmt: skip
PRINTERS = {"print", "echo", "write", "Table", "add_column", "add_task"}
MARKUP = re.compile(r"\[/?[a-z #]*\]")
WORD = re.compile(r"[A-Za-z]{2,}")
# Plain ``print`` and ``sys.stdout.write`` write what a script reads (stdout without Rich):
# each is listed here by the source of what it prints. JSON (``json.dumps(...)``) is machine
# output wherever it is printed.
MACHINE_OUTPUT = {
    ("auth/cli.py", "plain"),  # `user token`: the token alone
    ("auth/role_cli.py", "p"),  # `role show`: permission codes, one a line
    ("cli.py", "markdown_matrix()"),  # `permissions`: the Markdown matrix for the docs
}


def cli_modules() -> list[Path]:
    return sorted({SRC / "cli.py", *SRC.glob("**/cli.py"), *SRC.glob("**/*_cli.py")})


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


def _literals(node: ast.AST):
    """String literals in ``node`` that reach the output as they are: not inside a ``say``
    (or ``translate``, ``N_``, ``json.dumps``) call, not a dict key or a subscript."""
    if isinstance(node, ast.Call):
        func = node.func
        root = func.value if isinstance(func, ast.Attribute) else func
        if _name(func) in SAID or (isinstance(root, ast.Name) and root.id in SAID):
            return
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str):
            yield node
        return
    if isinstance(node, ast.Dict):
        for value in node.values:
            yield from _literals(value)
        return
    if isinstance(node, ast.Subscript):
        yield from _literals(node.value)
        return
    if isinstance(node, ast.JoinedStr):
        for part in node.values:
            if isinstance(part, ast.Constant):
                yield part
            else:
                yield from _literals(part.value)  # a FormattedValue's expression
        return
    for child in ast.iter_child_nodes(node):
        yield from _literals(child)


def unsaid(source: str, where: str) -> list[str]:
    """Printed English that does not go through ``say``, and plain prints not listed as
    machine output, in one module's ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and _name(node.func) in PRINTERS):
            continue
        args = [*node.args, *(k.value for k in node.keywords if k.arg in ("title", "description"))]
        func = node.func
        plain = isinstance(func, ast.Name) and func.id == "print"
        if isinstance(func, ast.Attribute) and func.attr == "write":
            if ast.unparse(func.value) not in ("sys.stdout", "sys.stderr"):
                continue  # a file the command writes (its CSV, its zip)
            plain = True
        if plain and args:
            shown = ast.unparse(args[0])
            if not shown.startswith("json.dumps(") and (where, shown) not in MACHINE_OUTPUT:
                found.append(f"{where}:{node.lineno}: plain output {shown}")
            continue
        for arg in args:
            for lit in _literals(arg):
                if WORD.search(MARKUP.sub("", lit.value)):
                    found.append(f"{where}:{lit.lineno}: {lit.value!r}")
    return found


def test_every_printed_line_goes_through_say():
    modules = cli_modules()
    assert len(modules) >= 20  # every domain's cli.py, analyze's *_cli.py and retento.cli
    found = [f for m in modules for f in unsaid(m.read_text(), str(m.relative_to(SRC)))]
    assert found == []


def test_the_scan_finds_english_and_lets_said_lines_and_machine_output_pass():
    source = """
console.print("Customer 5 deleted.")
err_console.print(f"[bold red]Error:[/] {name} failed")
typer.echo(f"{n:,} customers scored")
table = Table("id", "username")
table.add_column("reason")
print(plain)
print(rows)
sys.stdout.write(json.dumps(result) + "\\n")
fh.write(chunk)
console.print(say("Customer %(id)s deleted.", id=5))
console.print(say_in("column", "id"))
console.print(f"[yellow]{escape(line)}[/]")
console.print(f"  {t['type']:<10} {n:>8}")
print(json.dumps({"total": 1, "items": []}))
console.print("  " + escape(translate(locale, "line %(n)s", n=2)))
"""
    assert unsaid(source, "auth/cli.py") == [
        "auth/cli.py:2: 'Customer 5 deleted.'",
        "auth/cli.py:3: '[bold red]Error:[/] '",
        "auth/cli.py:3: ' failed'",
        "auth/cli.py:4: ' customers scored'",
        "auth/cli.py:5: 'id'",
        "auth/cli.py:5: 'username'",
        "auth/cli.py:6: 'reason'",
        "auth/cli.py:8: plain output rows",
    ]
