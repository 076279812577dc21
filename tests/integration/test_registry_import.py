"""registry import / import-licences through the real CLI on both databases."""
from __future__ import annotations

import json
import shutil
from datetime import date

from sqlalchemy import func, select

from webapp.registry.models import Citizen, LicenceRecord
from webapp.registry.rules import make_id_number
from tests.testdata import FACES, needs_testdata

A = make_id_number("440106", date(1988, 3, 7), 123)
B = make_id_number("110105", date(1992, 11, 2), 224)
C = make_id_number("310104", date(2011, 6, 1), 311)


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def count(db_session, model) -> int:
    return db_session.scalar(select(func.count()).select_from(model))


def test_import_writes_good_rows_and_names_the_bad_line_when_one_row_is_bad(app, db_session, tmp_path):
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "id_number,name,phone,address,photo\n"
        f"{A},李明,13800138001,广州市天河区,\n"
        f"{A[:-1]}0,坏号码,13800138009,无,\n"
        f"{B},王芳,13800138002,北京市朝阳区,\n"
        f"{C},张小雨,12345,上海,\n",
        encoding="utf-8")
    result = run(app, "registry", "import", str(csv_file))
    assert result.exit_code == 1
    assert "第 3 行" in result.output and "校验位" in result.output
    assert "第 5 行" in result.output and "手机" in result.output
    assert "新增 2" in result.output
    names = set(db_session.scalars(select(Citizen.name)))
    assert names == {"李明", "王芳"}


def test_import_is_idempotent_when_run_twice(app, db_session, tmp_path):
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(f"id_number,name,phone,address,photo\n{A},李明,13800138001,广州,\n", encoding="utf-8")
    assert run(app, "registry", "import", str(csv_file)).exit_code == 0
    csv_file.write_text(f"id_number,name,phone,address,photo\n{A},李明,13800138099,深圳,\n", encoding="utf-8")
    result = run(app, "registry", "import", str(csv_file))
    assert result.exit_code == 0 and "更新 1" in result.output
    assert count(db_session, Citizen) == 1
    assert db_session.scalar(select(Citizen.address)) == "深圳"


def test_import_reads_json_when_file_is_json(app, db_session, tmp_path):
    path = tmp_path / "people.json"
    path.write_text(json.dumps([{"id_number": A, "name": "李明", "phone": "13800138001", "address": "x"},
                                {"id_number": "123", "name": "坏"}, "not an object"], ensure_ascii=False),
                    encoding="utf-8")
    result = run(app, "registry", "import", str(path))
    assert result.exit_code == 1
    assert "第 2 行" in result.output and "第 3 行" in result.output
    assert count(db_session, Citizen) == 1


def test_import_refuses_whole_file_when_header_is_wrong(app, db_session, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("number,name\n1,2\n", encoding="utf-8")
    result = run(app, "registry", "import", str(path))
    assert result.exit_code == 2 and "表头" in result.output
    assert count(db_session, Citizen) == 0


@needs_testdata
def test_import_stores_portrait_and_encoding_when_photo_has_one_face(app, db_session, tmp_path):
    shutil.copy(FACES / "meds-aa-S001-02.jpg", tmp_path / "a.jpg")
    shutil.copy(FACES / "two_people.jpg", tmp_path / "b.jpg")
    (tmp_path / "c.jpg").write_bytes(b"not a picture")
    path = tmp_path / "people.csv"
    path.write_text("id_number,name,phone,address,photo\n"
                    f"{A},李明,13800138001,广州,a.jpg\n"
                    f"{B},王芳,13800138002,北京,b.jpg\n"
                    f"{C},张小雨,13800138003,上海,c.jpg\n", encoding="utf-8")
    result = run(app, "registry", "import", str(path))
    assert "第 3 行" in result.output and "多张人脸" in result.output
    assert "第 4 行" in result.output and "无法识别" in result.output
    citizen = db_session.scalar(select(Citizen))
    assert citizen.id_number == A
    assert citizen.portrait[:2] == b"\xff\xd8" and len(citizen.portrait_encoding) == 128 * 8


def test_import_licences_checks_each_field_when_rows_are_bad(app, db_session, tmp_path):
    people = tmp_path / "people.csv"
    people.write_text(f"id_number,name,phone,address,photo\n{A},李明,13800138001,广州,\n{B},王芳,13800138002,北京,\n",
                      encoding="utf-8")
    assert run(app, "registry", "import", str(people)).exit_code == 0
    lic = tmp_path / "licences.csv"
    header = "id_number,file_number,class,first_issued,valid_from,valid_until,issuing_authority,status,points\n"
    lic.write_text(header
                   + f"{A},440100123456,C1,2012-05-20,2018-05-20,2028-05-20,广州市公安局交通警察支队,正常,0\n"
                   + f"{B},110100654321,C1,2016-08-01,2022-08-01,,北京市公安局公安交通管理局,被盗,0\n"
                   + f"{C},110100654322,C1,2016-08-01,2022-08-01,,北京市公安局公安交通管理局,正常,0\n"
                   + f"{B},110100654323,Z9,2016-08-01,2022-08-01,,北京市公安局公安交通管理局,正常,0\n"
                   + f"{B},110100654324,C2,2016-08-01,2022-13-01,,北京市公安局公安交通管理局,正常,0\n",
                   encoding="utf-8")
    result = run(app, "registry", "import-licences", str(lic))
    assert result.exit_code == 1
    for line, fragment in [(3, "状态"), (4, "不在人口库"), (5, "准驾车型"), (6, "valid_from")]:
        assert f"第 {line} 行" in result.output and fragment in result.output
    assert count(db_session, LicenceRecord) == 1
    lic.write_text(header + f"{B},110100654321,A2D,2016-08-01,2022-08-01,,北京市公安局公安交通管理局,扣留,12\n",
                   encoding="utf-8")
    assert run(app, "registry", "import-licences", str(lic)).exit_code == 0
    record = db_session.scalar(select(LicenceRecord).where(LicenceRecord.file_number == "110100654321"))
    assert (record.licence_class, record.valid_until, record.status, record.points) == ("A2D", None, "扣留", 12)


def test_demo_refuses_when_not_in_demo_mode(app, db_session):
    app.config["SUISHEN_DEMO"] = False
    result = run(app, "registry", "demo")
    assert result.exit_code == 2 and "演示模式" in result.output
    assert count(db_session, Citizen) == 0


def test_demo_writes_citizens_and_licences_when_in_demo_mode(app, db_session):
    assert run(app, "registry", "demo").exit_code == 0
    assert run(app, "registry", "demo").exit_code == 0  # idempotent
    assert count(db_session, Citizen) == 5 and count(db_session, LicenceRecord) == 3


@needs_testdata
def test_demo_enrolment_refuses_an_imported_number_and_the_import_still_updates_it(app, db_session, tmp_path,
                                                                                    clock):
    """The two writers of the registry, side by side: the import updates by ID number (idempotent), demo
    enrolment only adds (issue 12) and leaves the imported row exactly as it was."""
    import pytest

    from webapp.proofing.services import prepare_portrait
    from webapp.registry import services

    csv_file = tmp_path / "people.csv"
    csv_file.write_text(f"id_number,name,phone,address,photo\n{A},李明,13800138001,广州,\n", encoding="utf-8")
    assert run(app, "registry", "import", str(csv_file)).exit_code == 0
    with pytest.raises(services.AlreadyInRegistry) as refused:
        services.enrol_demo_citizen(db_session, id_number=A.lower(), name="李明", phone="13900000666", address="",
                                    portrait=(FACES / "meds-aa-S029-01.jpg").read_bytes(), now=clock.now(),
                                    prepare_portrait=prepare_portrait)
    assert refused.value.status == 409 and "演示登记只能新增人员" in refused.value.user_message
    db_session.rollback()
    assert db_session.execute(select(Citizen.phone, Citizen.self_enrolled)).all() == [("13800138001", False)]
    csv_file.write_text(f"id_number,name,phone,address,photo\n{A},李明,13800138002,深圳,\n", encoding="utf-8")
    assert "更新 1" in run(app, "registry", "import", str(csv_file)).output
    db_session.expire_all()
    assert db_session.execute(select(Citizen.phone, Citizen.address)).all() == [("13800138002", "深圳")]
