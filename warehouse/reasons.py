"""Why a file or a row was set aside, in German: the readers write their reasons in English
(logs, the registry, the quarantine tables and dbt docs stay English); everything a person who is
not an engineer reads shows them through :func:`translate`: the steward's validation report and
reason file (:mod:`ingestion.validate`, :mod:`ingestion.delivery`), steward notices and the
department exports' "Hinweis" column (:mod:`warehouse.exports`, by the column's
``meta.translate: reasons``).

It lives in the warehouse layer, the lowest, so that every layer can use the one table.
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

# English reason (as the readers write it) -> German. Patterns are tried in order; a reason that
# matches none is shown as written. A group whose name ends in "_n" is a number with English
# thousands separators (10,000,000), shown with German ones (10.000.000).
REASONS: list[tuple[re.Pattern[str], str]] = [(re.compile(p), de) for p, de in [
    (r"^amount missing or not a positive number with decimal comma \(618,9\)$",
     "Betrag fehlt oder ist keine positive Zahl mit Dezimalkomma (618,9)"),
    (r"^must be S or H$", "muss S oder H sein"),
    (r"^amount in another currency than (?P<c>\w+) without a Basis-Umsatz in \w+$",
     r"Betrag in anderer Währung als {c} ohne Basis-Umsatz in {c}"),
    (r"^account missing or not digits$", "Konto fehlt oder besteht nicht nur aus Ziffern"),
    (r"^contra account not digits$", "Gegenkonto besteht nicht nur aus Ziffern"),
    (r"^not a date DDMM within the header period (?P<p>.+)$",
     r"kein Datum TTMM im Zeitraum des Kopfs ({p})"),
    (r"^must be empty, 0, 1 or G$", "muss leer, 0, 1 oder G sein"),
    (r"^not a number with decimal comma$", "keine Zahl mit Dezimalkomma"),
    (r"^longer than the (?P<n>\d+) characters DATEV allows \(a shifted column\?\)$",
     r"länger als die {n} Zeichen, die DATEV erlaubt (verschobene Spalte?)"),
    (r"^a byte that is not valid UTF-8 although the file is UTF-8 .*$",
     ("ein Byte, das kein gültiges UTF-8 ist, obwohl die Datei UTF-8 ist (bei der Übertragung "
     "beschädigt, oder die Zeile ist anders kodiert); bitte die ganze Datei in einer Kodierung "
     "exportieren (Windows-1252 ist DATEVs Standard)")),
    (r"^unbalanced quotation mark in field (?P<f>\d+) \((?P<h>.*)\) of the last line: .*$",
     ("unpaariges Anführungszeichen in Feld {f} ({h}) der letzten Zeile: das Feld in "
      "Anführungszeichen läuft bis zum Dateiende; die Zeile hat alle ihre Felder, sie wurde "
      "nicht abgeschnitten; die Zeile ist ganz aussortiert")),
    (r"^unbalanced quotation mark: .*$",
     ("unpaariges Anführungszeichen: ein Feld in Anführungszeichen läuft über das Zeilenende "
     "(DATEV erlaubt keinen Zeilenumbruch in einem Feld); die Zeile ist ganz aussortiert")),
    (r"^a quoted field runs across line ends .*$",
     ("ein Feld in Anführungszeichen läuft über mehrere Zeilen, obwohl jede Zeile paarige "
     "Anführungszeichen hat: bitte die Anführungszeichen der Buchungstexte prüfen und neu "
     "exportieren")),
    (r"^line has (?P<a>\d+) fields, the headings (?P<b>\d+)$",
     r"Zeile hat {a} Felder, die Überschriften {b}"),
    ((r"^line 2 \(column headings\) has no required column (?P<c>.+); found (?P<n>\d+) headings "
     r"starting (?P<h>.*)$"),
     (r"Zeile 2 (Spaltenüberschriften): Pflichtspalte {c} fehlt; gefunden: {n} "
     r"Überschriften, beginnend mit {h}")),
    (r"^the file ends in the middle of its last line .*deliver it again$",
     ("die Datei endet mitten in ihrer letzten Zeile: sie wurde wohl bei der Übertragung "
     "abgeschnitten; bitte neu liefern")),
    (r"^the lines end in CR only \(no LF\).*$",
     ("die Zeilen enden nur mit CR (ohne LF): bitte die Datei mit Windows-Zeilenenden (CR LF) "
     "neu speichern, wie DATEV sie schreibt")),
    (r"^not a DATEV file: .*found '(?P<f>.*)'$",
     r"keine DATEV-Datei: Zeile 1 muss mit EXTF oder DTVF und ';' beginnen, gefunden '{f}'"),
    (r"^DATEV data category (?P<c>\d+) \('(?P<n>[^']*)'\) is not .*$",
     (r"DATEV-Datenkategorie {c} ('{n}') ist kein Buchungsstapel (21) und keine "
     r"Kontenbeschriftung (20); bitte Buchungen als DATEV-Buchungsstapel (21) exportieren")),
    (r"^unknown DATEV version (?P<v>\d+) with format version (?P<f>\d+) .*$",
     (r"unbekannte DATEV-Version {v} mit Formatversion {f} (unterstützt: 510 mit "
     r"Formatversion 7, 700 mit Formatversion 9-13)")),
    ((r"^(?P<a>\d+) of (?P<b>\d+) (lines|rows) rejected, more than the allowed share of "
     r"(?P<s>\d+) ?%; first problem: (?P<inner>.*)$"),
     (r"{a} von {b} Zeilen aussortiert, mehr als der erlaubte Anteil von {s} %; erstes "
     r"Problem: {inner}")),
    (r"^line 1 \(the header\) cannot be split into fields: .*$",
     "Zeile 1 (der DATEV-Kopf) lässt sich nicht in Felder zerlegen (ein Zeilenumbruch oder "
     "Anführungszeichen am falschen Ort?)"),
    (r"^line 2 \(the column headings\) cannot be split into fields: .*$",
     "Zeile 2 (die Spaltenüberschriften) lässt sich nicht in Felder zerlegen (ein Zeilenumbruch "
     "oder Anführungszeichen am falschen Ort?)"),
    (r"^(?P<w>.+) cannot be split into fields: .*$",
     "{w}: lässt sich nicht in Felder zerlegen (ein Zeilenumbruch oder Anführungszeichen am "
     "falschen Ort?)"),
    (r"^line (?P<n>\d+), (?:field )?(?P<field>[^:]+): (?P<inner>.*)$",
     "Zeile {n}, {field}: {inner}"),
    (r"^missing required value$", "Pflichtwert fehlt"),
    (r"^not a valid date \(expected DD\.MM\.YYYY or YYYY-MM-DD\)$",
     "kein gültiges Datum (erwartet TT.MM.JJJJ oder JJJJ-MM-TT)"),
    (r"^the year is not written with four digits \(expected DD\.MM\.YYYY or YYYY-MM-DD\)$",
     "die Jahreszahl hat nicht vier Stellen (erwartet TT.MM.JJJJ oder JJJJ-MM-TT)"),
    (r"^date before (?P<d>[0-9.]+): implausible$", r"Datum vor dem {d}: unplausibel"),
    (r"^not a number$", "keine Zahl"),
    (r"^below (?P<n>.+)$", r"kleiner als {n}"),
    (r"^above (?P<n>.+)$", r"größer als {n}"),
    (r"^unknown code \(allowed: (?P<c>.*)\)$", r"unbekannter Code (erlaubt: {c})"),
    (r"^duplicate key within the file$", "Schlüssel kommt in der Datei doppelt vor"),
    (r"^the end date lies before the start date$", "das Enddatum liegt vor dem Beginn"),
    (r"^the score lies outside the instrument's scale$",
     "der Wert liegt außerhalb der Skala des Instruments"),
    (r"^the file is empty$", "die Datei ist leer"),
    (r"^binary data, not a text export \(contains NUL bytes\)$",
     "Binärdaten, kein Textexport (enthält NUL-Bytes)"),
    (r"^missing column\(s\) (?P<c>.*)$", r"fehlende Spalte(n) {c}"),
    (r"^unexpected error while reading the file \((?P<e>[^)]*)\); .*$",
     (r"unerwarteter Fehler beim Lesen der Datei ({e}); die Datei wird beiseitegelegt, die "
      r"anderen werden geladen: bitte das Plattform-Team informieren")),
    (r"^the header names column\(s\) (?P<c>.*) more than once; .*$",
     (r"die Kopfzeile nennt die Spalte(n) {c} mehr als einmal; welche die Werte enthält, ist "
      r"unklar: die doppelte Spalte umbenennen oder entfernen und neu liefern")),
    (r"^a quoted value \(\"\) opens in this row and never closes: the next (?P<n>\d+) row\(s\) "
     r"were read into it$",
     ('ein Wert in Anführungszeichen (") beginnt in dieser Zeile und wird nie geschlossen: '
      "die nächsten {n} Zeile(n) wurden in ihn gelesen")),
    (r"^read into the unclosed quote of row (?P<n>\d+)$",
     r"in den nicht geschlossenen Wert in Anführungszeichen aus Zeile {n} gelesen"),
    (r"^row (?P<n>\d+) opens a quoted value \(\"\) that never closes: more than (?P<c_n>[\d,]+) "
     r"characters .*$",
     ('Zeile {n} öffnet einen Wert in Anführungszeichen ("), der nie geschlossen wird: mehr als '
      r"{c_n} Zeichen der folgenden Zeilen wurden in ihn gelesen, die verschluckten Zeilen lassen "
      r"sich nicht zählen; das Anführungszeichen schließen (oder entfernen) und die Datei neu "
      r"liefern")),
    (r"^around row (?P<n>\d+) a quoted value \(\"\) never closes and the rows after it .*$",
     ('um Zeile {n} wird ein Wert in Anführungszeichen (") nie geschlossen, und die Zeilen '
      "danach lassen sich nicht sicher zählen; die ganze Datei wird abgelehnt, damit keine "
      "Zeile verloren geht: das Anführungszeichen schließen (oder entfernen) und die Datei neu "
      "liefern")),
    (r"^row (?P<n>\d+) \(line (?P<e>\d+) in a text editor\), (?P<c>column \d+(?: '.*')?): a "
     r"quoted value \(\"\) runs over the next (?P<k>\d+) line\(s\), and line (?P<l>\d+) of the "
     r"file looks like a row of its own(?P<more>.*?); a stray quote .*$",
     ('Zeile {n} (im Texteditor Zeile {e}), {c}: ein Wert in Anführungszeichen (") läuft über '
      "die nächsten {k} Zeile(n), und Zeile {l} im Texteditor sieht aus wie ein eigener "
      "Datensatz{more}; vermutlich hat ein einzelnes Anführungszeichen den Wert geöffnet und "
      "eines am Ende einer späteren Zeile ihn geschlossen, die Zeilen dazwischen gingen "
      "verloren. Die ganze Datei wird abgelehnt, damit keine Zeile verloren geht: das einzelne "
      "Anführungszeichen entfernen (oder verdoppeln) und die Datei neu liefern")),
    (r"^no header found: row (?P<n>\d+) runs over (?P<k>\d+) lines, a quote .*$",
     ('keine Kopfzeile gefunden: Zeile {n} läuft über {k} Zeilen, ein Anführungszeichen (") '
      "in ihr oder darüber öffnet einen Wert, der nicht am Zeilenende schließt; das einzelne "
      "Anführungszeichen entfernen und die Datei neu liefern")),
    (r"^the header \(row 1\) cannot be read: (?P<e>.*)$",
     r"die Kopfzeile (Zeile 1) kann nicht gelesen werden: {e}"),
    (r"^the workbook has no visible worksheet$", "die Arbeitsmappe hat kein sichtbares Blatt"),
    (r"^the workbook's first visible sheet \('(?P<s>.*)'\) is empty$",
     r"das erste sichtbare Blatt der Arbeitsmappe ('{s}') ist leer"),
    (r"^not a kind of file Datenwerk loads: .*$",
     ("keine Datei, die Datenwerk lädt: kein DATEV-Kopf, und die Kopfzeile hat weder die Spalten "
     "einer Referenztabelle noch die eines Exportprofils")),
    # DATEV header and structure (ingestion/accounting/datev.py).
    (r"^the period (?P<a>\S+)-(?P<b>\S+) \(header fields 15/16\) does not lie within the fiscal "
     r"year starting (?P<s>\S+) \(field 13\).*$",
     (r"der Zeitraum {a}-{b} (Kopffelder 15/16) liegt nicht im Wirtschaftsjahr ab {s} "
     r"(Feld 13): das Belegdatum TTMM hat kein Jahr, deshalb muss ein Stapel in einem "
     r"Wirtschaftsjahr bleiben")),
    (r"^header field (?P<f>\d+) \((?P<n>[^)]*)\) is not a date YYYYMMDD: '(?P<v>.*)'$",
     r"Kopffeld {f} ({n}) ist kein Datum JJJJMMTT: '{v}'"),
    (r"^header field (?P<f>\d+) \((?P<n>[^)]*)\) must be a number, found '(?P<v>.*)'$",
     r"Kopffeld {f} ({n}) muss eine Zahl sein, gefunden '{v}'"),
    (r"^header field 14 \(Sachkontennummernlänge\) must be 4 to 8, found '(?P<v>.*)'$",
     r"Kopffeld 14 (Sachkontennummernlänge) muss 4 bis 8 sein, gefunden '{v}'"),
    (r"^header fields 2, 3 and 5 \(version, data category, format version\) must be numbers, "
     r"found (?P<v>.*)$",
     (r"Kopffelder 2, 3 und 5 (Version, Datenkategorie, Formatversion) müssen Zahlen sein, "
     r"gefunden {v}")),
    (r"^header currency \(field 22\) is '(?P<c>.*)'; only EUR books are supported$",
     r"Währung im Kopf (Feld 22) ist '{c}'; unterstützt werden nur Bücher in EUR"),
    (r"^the DATEV header \(line 1\) has (?P<n>\d+) fields; at least 16 .*$",
     (r"der DATEV-Kopf (Zeile 1) hat {n} Felder; nötig sind mindestens 16 (bis 'Datum bis'), "
     r"üblich sind 31")),
    (r"^line 2 \(the column headings\) is missing$", "Zeile 2 (die Spaltenüberschriften) fehlt"),
    (r"^line 2 \(column headings\) needs 'Konto' and 'Kontenbeschriftung', found (?P<h>.*)$",
     (r"Zeile 2 (Spaltenüberschriften) braucht 'Konto' und 'Kontenbeschriftung', "
     r"gefunden: {h}")),
    (r"^column '(?P<c>.*)' is not valid (?P<e>\S+) although the file starts as (?P<s>\S+); .*$",
     (r"Spalte '{c}' ist kein gültiges {e}, obwohl die Datei als {s} beginnt; bitte die ganze "
     r"Datei in einem Zeichensatz exportieren (Windows-1252 ist der DATEV-Standard)")),
    (r"^','-delimited file with (?P<n>\d+) line\(s\) whose field count differs from the headings "
     r"\(first: booking (?P<b>\d+), (?P<c>\d+) of (?P<e>\d+) fields\).*$",
     (r"mit ',' getrennte Datei mit {n} Zeile(n), deren Feldzahl von den Überschriften "
     r"abweicht (erste: Buchung {b}, {c} von {e} Feldern): Beträge mit Dezimalkomma müssen in "
     r"einer mit ',' getrennten Datei in Anführungszeichen stehen; bitte mit ';' exportieren "
     r"(DATEV-Standard)")),
    (r"^the booking lines cannot be parsed: (?P<inner>.*)$",
     r"die Buchungszeilen können nicht gelesen werden: {inner}"),
    # pyarrow's CSV reader (quoted inside the reasons above, or a reference table's own reason).
    (r"^Could not skip initial (?P<n>\d+) rows from CSV file, either file is too short.*$",
     (r"nach den ersten {n} Zeilen folgt nichts: die Datei ist zu kurz (keine Buchungszeile, "
     r"kein Zeilenende)")),
    (r"^CSV parse error: Expected (?P<a>\d+) columns, got (?P<b>\d+).*$",
     r"CSV-Lesefehler: {a} Spalten erwartet, {b} gefunden"),
    (r"^CSV conversion error to (?P<t>\S+): invalid value '(?P<v>.*)'$",
     r"CSV-Umwandlungsfehler nach {t}: ungültiger Wert '{v}'"),
    (r"^Empty CSV file$", "leere CSV-Datei"),
    # Case-management exports (ingestion/case_management/).
    (r"^the file lies (?:outside|deeper than) a department folder \((?P<p>.*)\); .*$",
     ("die Datei liegt nicht in einem Abteilungsordner ({p}); Exporte gehören in "
     "<organisation>/<department>/ des Posteingangs der Fallverwaltung, wo die Ordner sagen, "
     "wessen Daten es sind. Bitte dorthin verschieben (Unterordner wie ein Archiv werden nicht "
     "gelesen).")),
    (r"^unknown profile '(?P<p>.*)'; known: (?P<k>.*)$",
     r"unbekanntes Exportprofil '{p}'; bekannt: {k}"),
    (r"^neither the file name nor the header matches an export profile \(checked: (?P<k>.*)\);.*$",
     (r"weder Dateiname noch Kopfzeile passen zu einem Exportprofil (geprüft: {k}); Profil mit "
     r"--profile nennen oder eines für diesen Export anlegen")),
    (r"^the header fits several export profiles \((?P<a>[^,]*), (?P<b>[^)]*)\):.*$",
     (r"die Kopfzeile passt zu mehreren Exportprofilen ({a}, {b}): eines mit --profile nennen "
     r"oder der Datei einen Namen geben, den ihr Profil erwartet")),
    (r"^the header cannot be decoded as (?P<e>\S+): (?P<r>.*)$",
     r"die Kopfzeile lässt sich nicht als {e} lesen: {r}"),
    (r"^the header has no '(?P<d>.*)'-separated columns$",
     r"die Kopfzeile hat keine durch '{d}' getrennten Spalten"),
    (r"^not a readable \.xlsx workbook: (?P<r>.*)$", r"keine lesbare .xlsx-Arbeitsmappe: {r}"),
    (r"^the workbook's first sheet is empty$", "das erste Blatt der Arbeitsmappe ist leer"),
    (r"^cannot be decoded as (?P<e>\S+) at byte (?P<b>\d+): (?P<r>.*)$",
     r"lässt sich ab Byte {b} nicht als {e} lesen: {r}"),
    (r"^cannot be read as a '(?P<d>.*)'-delimited file: Invalid Input Error: CSV Error on "
     r"Line: (?P<n>\d+)$",
     r"lässt sich nicht als durch '{d}' getrennte Datei lesen: Lesefehler in Zeile {n}"),
    (r"^cannot be read as a '(?P<d>.*)'-delimited file: (?P<r>.*)$",
     r"lässt sich nicht als durch '{d}' getrennte Datei lesen: {r}"),
    (r"^line (?P<n>\d+) is longer than (?P<b_n>[\d,]+) bytes \(and (?P<m>\d+) more lines\); .*$",
     (r"Zeile {n} ist länger als {b_n} Bytes (und {m} weitere Zeilen); ein defekter Export, die "
     r"ganze Datei ist abgewiesen")),
    (r"^(?P<part>\S+) unpacks to more than (?P<r>\d+) times its packed size \((?P<b_n>[\d,]+) "
     r"bytes; a zip bomb\?\); the whole file is rejected$",
     (r"der Teil {part} der Arbeitsmappe entpackt sich auf mehr als das {r}-Fache seiner "
      r"gepackten Größe ({b_n} Bytes; eine Zip-Bombe?); die ganze Datei ist abgewiesen")),
    (r"^a cell in row (?P<n>\S+) is longer than (?P<b_n>[\d,]+) bytes; .*$",
     (r"eine Zelle in Zeile {n} ist länger als {b_n} Bytes; ein defekter Export, die ganze "
      r"Datei ist abgewiesen")),
    (r"^a text of the workbook is longer than (?P<b_n>[\d,]+) bytes; .*$",
     (r"ein Text der Arbeitsmappe ist länger als {b_n} Bytes; ein defekter Export, die ganze "
      r"Datei ist abgewiesen")),
    (r"^(?P<part>\S+) has more than (?P<r_n>[\d,]+) rows, more than Excel allows; .*$",
     (r"das Tabellenblatt {part} hat mehr als {r_n} Zeilen, mehr als Excel erlaubt; die ganze "
      r"Datei ist abgewiesen")),
    (r"^reached through a symbolic link that leads out of its place in the inbox; .*$",
     (r"über einen symbolischen Link erreicht, der aus seinem Platz im Posteingang hinausführt; "
      r"Links werden nicht verfolgt, nichts daraus wurde gelesen")),
    (r"^line (?P<n>\d+) is longer than (?P<b_n>[\d,]+) bytes; .*$",
     r"Zeile {n} ist länger als {b_n} Bytes; ein defekter Export, die ganze Datei ist abgewiesen"),
    (r"^required column\(s\) (?P<c>.*) missing for (?P<entity>\S+) \(profile (?P<p>[^)]*)\); "
     r"the profile's columns in the header: (?P<h>.*); (?P<n>\d+) other column\(s\), not shown$",
     r"Pflichtspalte(n) {c} fehlen für {entity} (Exportprofil {p}); Spalten des Profils in der "
     r"Kopfzeile: {h}; {n} weitere Spalte(n), hier nicht gezeigt (fehlt die Kopfzeile?)"),
    (r"^contains bytes that are not valid (?P<e>\S+)$",
     r"enthält Bytes, die kein gültiges {e} sind"),
    (r"^date in the future \(after (?P<d>\S+)\): implausible$",
     r"Datum in der Zukunft (nach dem {d}): unplausibel"),
    (r"^not in the reference programs of department (?P<d>\S+) \(known: (?P<k>.*)\)$",
     r"nicht unter den Programmen der Abteilung {d} in den Referenzdaten (bekannt: {k})"),
    (r"^not in the reference programs of (?P<o>\S+) \(programs\.csv was never delivered\) "
     r"\(known: (?P<k>.*)\)$",
     (r"nicht unter den Programmen von {o} in den Referenzdaten (programs.csv wurde nie "
     r"geliefert) (bekannt: {k})")),
    (r"^not in the reference programs of (?P<o>\S+) \(known: (?P<k>.*)\)$",
     r"nicht unter den Programmen von {o} in den Referenzdaten (bekannt: {k})"),
    (r"^not in the reference data \(known: (?P<k>.*)\)$",
     r"nicht in den Referenzdaten (bekannt: {k})"),
    (r"^no reference data for organisation '(?P<o>.*)': departments\.csv has never been "
     r"delivered.*$",
     (r"keine Referenzdaten für die Organisation '{o}': departments.csv wurde nie geliefert "
     r"(erwartet im Posteingang der Referenzdaten als {o}/departments.csv), deshalb lassen sich "
     r"ihre Falldaten keiner Abteilung zuordnen")),
    (r"^department '(?P<d>.*)' \(the folder this file arrived in\) is not in the reference "
     r"departments of (?P<o>\S+) \(known: (?P<k>.*)\);.*$",
     (r"die Abteilung '{d}' (der Ordner, in dem die Datei ankam) steht nicht in den "
     r"Referenzabteilungen von {o} (bekannt: {k}); bitte in departments.csv ergänzen oder die "
     r"Datei in den Ordner der richtigen Abteilung verschieben")),
    (r"^too few fields in this row$", "zu wenige Felder in dieser Zeile"),
    (r"^too many fields in this row$", "zu viele Felder in dieser Zeile"),
    (r"^a quote character inside an unquoted value$",
     "ein Anführungszeichen in einem Wert ohne Anführungszeichen"),
    (r"^the row is longer than allowed$", "die Zeile ist länger als erlaubt"),
    (r"^characters that are not valid in the file's encoding$",
     "Zeichen, die im Zeichensatz der Datei ungültig sind"),
    (r"^the row cannot be read \(unbalanced quotes\)$",
     "die Zeile lässt sich nicht lesen (unpaarige Anführungszeichen)"),
    (r"^a value cannot be read$", "ein Wert lässt sich nicht lesen"),
    # Reference tables (ingestion/reference/).
    (r"^unknown reference table; expected one of (?P<t>.*)$",
     r"unbekannte Referenztabelle; erwartet eine von {t}"),
    (r"^chart '(?P<c>.*)' is not a DATEV chart such as SKR03, SKR04, SKR42 or SKR49$",
     r"Kontenrahmen '{c}' ist kein DATEV-Kontenrahmen wie SKR03, SKR04, SKR42 oder SKR49"),
    (r"^account_from '(?P<a>.*)' and account_to '(?P<b>.*)' must be digit strings .*$",
     (r"account_from '{a}' und account_to '{b}' müssen Ziffernfolgen gleicher Länge sein, "
     r"mit von <= bis")),
    (r"^category_type '(?P<k>.*)' is not one of (?P<c>.*)$",
     r"category_type '{k}' ist keiner von {c}"),
    (r"^category '(?P<c>.*)' is not a (?P<k>\S+) category \((?P<a>.*)\)$",
     r"category '{c}' ist keine Kategorie der Art {k} ({a})"),
    (r"^kost_field '(?P<k>.*)' is not KOST1 or KOST2$",
     r"kost_field '{k}' ist nicht KOST1 oder KOST2"),
    (r"^kost_field must be the same for all cost centres of an organisation; found (?P<f>.*): .*$",
     (r"kost_field muss für alle Kostenstellen einer Organisation gleich sein; gefunden {f}: "
     r"ein DATEV-Feld trägt die Kostenstelle der Abteilung bzw. des Programms")),
    (r"^(?P<w>\w+) (?P<c>'.*'|\".*\") is not a valid code: .*$",
     (r"{w} {c} ist kein gültiger Code: nur Buchstaben, Ziffern, '_', '-' und '.', beginnend "
     r"mit Buchstabe oder Ziffer, höchstens 64 Zeichen")),
    # What a loaded file's reader noticed (ingestion.delivery.FileOutcome.notice).
    (r"^(?P<n>\d+) column\(s\) not read \(unknown to the export profile; the file's report "
     r"names them\); (?P<inner>.+)$",
     "{n} Spalte(n) nicht gelesen (dem Exportprofil unbekannt; der Prüfbericht der Datei nennt "
     "sie); {inner}"),
    (r"^(?P<n>\d+) column\(s\) not read \(unknown to the export profile; the file's report "
     r"names them\)$",
     "{n} Spalte(n) nicht gelesen (dem Exportprofil unbekannt; der Prüfbericht der Datei nennt "
     "sie)"),
    (r"^(?P<n>\d+) row\(s\) with a postcode that gives no region \(not five digits\), "
     r"loaded without one; (?P<inner>.+)$",
     "{n} Zeile(n) mit einer Postleitzahl, die keine Region ergibt (nicht fünf Ziffern), ohne "
     "Region geladen; {inner}"),
    (r"^(?P<n>\d+) row\(s\) with a postcode that gives no region \(not five digits\), "
     r"loaded without one$",
     "{n} Zeile(n) mit einer Postleitzahl, die keine Region ergibt (nicht fünf Ziffern), ohne "
     "Region geladen"),
    (r"^optional column\(s\) missing, their fields stay empty: (?P<c>.*)$",
     "optionale Spalte(n) fehlen, ihre Felder bleiben leer: {c}"),
    (r"^the same bytes as (?P<f>.+), loaded before: nothing of it is loaded again, no figure "
     r"counts twice$",
     "dieselbe Datei wie {f}, bereits geladen: nichts davon wird erneut geladen, keine Zahl "
     "wird doppelt gezählt"),
    (r"^line (?P<n>\d+): (?P<inner>.*)$", "Zeile {n}: {inner}"),
]]


# Phrases inside a reason that the patterns above keep as a group.
PHRASES = [(re.compile(p), de) for p, de in [
    (r"\(or ", "(oder "),
    (r"' \(for (\w+)\)", r"' (für \1)"),  # a file's column and the standard's field it is for
    (r"\(columns (\d+) and (\d+)\)", r"(Spalten \1 und \2)"),
    (r"expected at column (\d+) of format version (\d+)", (r"erwartet in Spalte \1 der "
                                                            r"Formatversion \2")),
    # Last: the phrases above name columns too.
    (r"\bcolumn (\d+)", r"Spalte \1"),  # a column named by its place
    (r" \((\d+) more such value\(s\) in the file\)", r" (\1 weitere solche Werte in der Datei)"),
]]


# The field of a row the reader could not split into fields: "(row)" in a case-management
# export (ingestion.case_management.helpers), "line" in a DATEV file (ingestion.accounting.datev).
WHOLE_ROW = ("(row)", "line")


def steward_field(name: str) -> str:
    """A quarantine row's field as the steward reads it: the whole row is "(ganze Zeile)"."""
    return "(ganze Zeile)" if name in WHOLE_ROW else name


def _entity(code: str) -> str:
    """An entity of the data standard in German (the seed's code list ``entity``)."""
    from warehouse import labels  # labels reads this module's table for the exports

    return labels.code_text("entity", code) or code


def translate(reason: str, lang: str) -> str:
    """A reason in ``lang``: German through :data:`REASONS`, English as written. A group named
    ``inner`` (a reason quoted inside another) is translated too."""
    if lang != "de":
        return reason
    for pattern, german in REASONS:
        match = pattern.match(reason)
        if match:
            groups = {k: v or "" for k, v in match.groupdict().items()}
            if "inner" in groups:
                groups["inner"] = translate(groups["inner"], lang)
            if "field" in groups:  # a field named in the reason ("line 3, field line: ...")
                groups["field"] = steward_field(groups["field"])
            for name in [g for g in groups if g.endswith("_n")]:  # 10,000,000 -> 10.000.000
                groups[name] = groups[name].replace(",", ".")
            if "entity" in groups:  # cases -> Fälle
                groups["entity"] = _entity(groups["entity"])
            text = german.format(**groups)
            for phrase, replacement in PHRASES:
                text = phrase.sub(replacement, text)
            return text
    return reason


def fingerprint() -> str:
    """The translation table as text: part of an export's content fingerprint, so that a new or
    changed German text rewrites the exports that show it."""
    return repr([(p.pattern, de) for p, de in REASONS] + [(p.pattern, de) for p, de in PHRASES])


def error_kind(exc: Exception) -> str:
    """A reader's error as a reason may show it: the first line of its message without what it
    quotes of the file. DuckDB's and pyarrow's CSV errors print the row (a client's name, birth
    date and address) after the column counts or on the lines below, and conversion errors
    quote the value; those parts become '…'. The whole message goes to the log."""
    log.warning("Reading failed: %s", exc)
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else type(exc).__name__
    first = re.sub(r"(Expected \d+ columns, got \d+).*", r"\1", first)
    return re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", first)
