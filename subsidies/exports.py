"""A disbursement batch as the treasury's spreadsheet: CSV (UTF-8 with a byte-order mark, so
Excel opens the Chinese names correctly) and XLSX (XlsxWriter in constant-memory mode).

One row per request: batch number, request number, firm, USCC, programme, policy number and the
approved amount. Bank details are not stored by the portal and are not exported.
"""

import csv
import io
from decimal import Decimal

import xlsxwriter
from django.utils.translation import gettext, gettext_lazy
from xlsxwriter.utility import xl_col_to_name

ZERO = Decimal("0.00")
COLUMNS = [
    gettext_lazy("Batch number"),
    gettext_lazy("Request number"),
    gettext_lazy("Firm name"),
    gettext_lazy("Unified Social Credit Code"),
    gettext_lazy("Programme"),
    gettext_lazy("Policy number"),
    gettext_lazy("Approved amount (CNY)"),
]
# A cell starting with one of these is read as a formula by spreadsheet programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def batch_rows(batch) -> list[list]:
    """The batch's requests as rows of values (the amount a Decimal)."""
    requests = batch.requests.select_related("firm", "programme", "policy").order_by("number", "pk")
    return [
        [
            batch.number,
            request.number,
            request.firm.name_zh,
            request.firm.uscc,
            request.programme.name_zh,
            request.policy.number or "",
            request.approved_amount or ZERO,
        ]
        for request in requests
    ]


def _text(value) -> str:
    """A text cell that a spreadsheet will never run as a formula."""
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def batch_csv(batch) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([str(title) for title in COLUMNS])
    for row in batch_rows(batch):
        writer.writerow([*(_text(value) for value in row[:-1]), f"{row[-1]:.2f}"])
    return buffer.getvalue().encode("utf-8-sig")


def batch_xlsx(batch) -> bytes:
    rows = batch_rows(batch)
    output = io.BytesIO()
    # constant_memory writes each row out as soon as the next starts: rows go strictly in order.
    workbook = xlsxwriter.Workbook(
        output,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    sheet = workbook.add_worksheet(batch.number[:31])
    bold = workbook.add_format({"bold": True})
    money = workbook.add_format({"num_format": "#,##0.00"})
    bold_money = workbook.add_format({"num_format": "#,##0.00", "bold": True})
    widths = [16, 18, 36, 22, 36, 24, 18]
    for column, width in enumerate(widths):
        sheet.set_column(column, column, width)
    for column, title in enumerate(COLUMNS):
        sheet.write_string(0, column, str(title), bold)
    total = ZERO
    for index, row in enumerate(rows, start=1):
        for column, value in enumerate(row[:-1]):
            sheet.write_string(index, column, str(value))
        sheet.write_number(index, len(row) - 1, float(row[-1]), money)
        total += row[-1]
    last = len(rows) + 1
    sheet.write_string(last, 0, gettext("Total"), bold)
    amount_column = len(COLUMNS) - 1
    if rows:
        column_letter = xl_col_to_name(amount_column)
        sheet.write_formula(
            last,
            amount_column,
            f"=SUM({column_letter}2:{column_letter}{last})",
            bold_money,
            float(total),
        )
    else:
        sheet.write_number(last, amount_column, 0, bold_money)
    sheet.freeze_panes(1, 0)
    workbook.close()
    return output.getvalue()
