"""Page texts in mk / sq / en and the choice of language for a request.

A small in-code catalogue for the foundation's pages; the citizen web moves these to Babel.
"""

from __future__ import annotations

from fastapi import Request

LANGUAGES = ("mk", "sq", "en")
LANGUAGE_NAMES = {"mk": "Македонски", "sq": "Shqip", "en": "English"}
LANG_COOKIE = "navreme_lang"

TEXTS: dict[str, dict[str, str]] = {
    "skip": {"mk": "Прескокни до содржината", "sq": "Kalo te përmbajtja", "en": "Skip to content"},
    "tagline": {
        "mk": "Јавни услуги навреме, таму каде што сте.",
        "sq": "Shërbime publike në kohë, aty ku jeni.",
        "en": "Public services on time, where you are.",
    },
    "language": {"mk": "Јазик", "sq": "Gjuha", "en": "Language"},
    "demo_title": {"mk": "Демо на Навреме", "sq": "Demo e Navreme", "en": "The Navreme demo"},
    "demo_intro": {
        "mk": "Ова е синтетичка Северна Македонија: лица, документи, канцеларии и каталог на "
        "услуги. Државата знае кога истекува вашата лична карта и ви нуди термин пред да побарате.",
        "sq": "Kjo është një Maqedoni e Veriut sintetike: persona, dokumente, zyra dhe katalog "
        "shërbimesh. Shteti e di kur skadon letërnjoftimi juaj dhe ju ofron një termin para se ta "
        "kërkoni.",
        "en": "This is a synthetic North Macedonia: persons, documents, offices and a service "
        "catalogue. The state knows when your ID card expires and offers you an appointment "
        "before you ask.",
    },
    "citizen_login": {
        "mk": "Најава за граѓани",
        "sq": "Hyrja për qytetarë",
        "en": "Citizen sign-in",
    },
    "officer_login": {
        "mk": "Најава за службеници",
        "sq": "Hyrja për nëpunës",
        "en": "Officer sign-in",
    },
    "outbox": {"mk": "Развојно сандаче", "sq": "Kutia e zhvillimit", "en": "Development outbox"},
    "catalogue": {
        "mk": "Каталог на услуги",
        "sq": "Katalogu i shërbimeve",
        "en": "Service catalogue",
    },
    "api_docs": {
        "mk": "API документација",
        "sq": "Dokumentacioni i API",
        "en": "API documentation",
    },
    "demo_logins": {"mk": "Демо најави", "sq": "Hyrjet demo", "en": "Demo logins"},
    "demo_citizens": {"mk": "Демо граѓани", "sq": "Qytetarë demo", "en": "Demo citizens"},
    "name": {"mk": "Име и презиме", "sq": "Emri dhe mbiemri", "en": "Name"},
    "username": {"mk": "Корисничко име", "sq": "Emri i përdoruesit", "en": "Username"},
    "password": {"mk": "Лозинка", "sq": "Fjalëkalimi", "en": "Password"},
    "totp": {
        "mk": "Код од апликацијата за автентикација",
        "sq": "Kodi nga aplikacioni i vërtetimit",
        "en": "Code from your authenticator app",
    },
    "sign_in": {"mk": "Најави се", "sq": "Hyr", "en": "Sign in"},
    "sign_out": {"mk": "Одјави се", "sq": "Dil", "en": "Sign out"},
    "national_id": {
        "mk": "ЕМБГ (13 цифри)",
        "sq": "NVAQ (13 shifra)",
        "en": "Personal number (EMBG, 13 digits)",
    },
    "send_code": {"mk": "Испрати ми код", "sq": "Më dërgo kodin", "en": "Send me a code"},
    "code_sent": {
        "mk": "Ако бројот е во регистарот и има потврден контакт, испративме код на {dest}.",
        "sq": "Nëse numri është në regjistër dhe ka kontakt të verifikuar, dërguam një kod te {dest}.",
        "en": "If the number is in the registry with a verified contact, we sent a code to {dest}.",
    },
    "your_contact": {
        "mk": "вашиот потврден контакт",
        "sq": "kontaktin tuaj të verifikuar",
        "en": "your verified contact",
    },
    "code": {"mk": "Код (6 цифри)", "sq": "Kodi (6 shifra)", "en": "Code (6 digits)"},
    "confirm": {"mk": "Потврди", "sq": "Konfirmo", "en": "Confirm"},
    "my_services": {"mk": "Мои услуги", "sq": "Shërbimet e mia", "en": "My services"},
    "my_documents": {"mk": "Мои документи", "sq": "Dokumentet e mia", "en": "My documents"},
    "document": {"mk": "Документ", "sq": "Dokumenti", "en": "Document"},
    "number": {"mk": "Број", "sq": "Numri", "en": "Number"},
    "expires": {"mk": "Важи до", "sq": "Skadon më", "en": "Expires on"},
    "status": {"mk": "Статус", "sq": "Statusi", "en": "Status"},
    "id_card": {"mk": "Лична карта", "sq": "Letërnjoftim", "en": "ID card"},
    "passport": {"mk": "Пасош", "sq": "Pasaportë", "en": "Passport"},
    "driving_licence": {"mk": "Возачка дозвола", "sq": "Patentë shoferi", "en": "Driving licence"},
    "officer_home": {"mk": "Мојот оддел", "sq": "Departamenti im", "en": "My department"},
    "colleagues": {"mk": "Колеги", "sq": "Kolegët", "en": "Colleagues"},
    "roles": {"mk": "Улоги", "sq": "Rolet", "en": "Roles"},
    "outbox_intro": {
        "mk": "Пораките што Навреме би ги испратило (кодови за најава), најновите прво.",
        "sq": "Mesazhet që Navreme do të dërgonte (kodet e hyrjes), më të rejat së pari.",
        "en": "Messages Navreme would send (login codes), newest first.",
    },
    "to": {"mk": "До", "sq": "Për", "en": "To"},
    "message": {"mk": "Порака", "sq": "Mesazhi", "en": "Message"},
    "sent_at": {"mk": "Време", "sq": "Koha", "en": "Time"},
    "nothing_yet": {"mk": "Сè уште ништо.", "sq": "Ende asgjë.", "en": "Nothing yet."},
    "error_title": {
        "mk": "Нешто не е во ред",
        "sq": "Diçka nuk shkoi",
        "en": "Something is not right",
    },
    "back_home": {
        "mk": "Назад на почетна",
        "sq": "Kthehu në fillim",
        "en": "Back to the start page",
    },
    "login_failed": {
        "mk": "Погрешно корисничко име, лозинка или код.",
        "sq": "Emri, fjalëkalimi ose kodi është i gabuar.",
        "en": "Wrong username, password or code.",
    },
    "code_failed": {
        "mk": "Кодот е погрешен или повеќе не важи. Побарајте нов.",
        "sq": "Kodi është i gabuar ose nuk vlen më. Kërkoni një të ri.",
        "en": "That code is wrong or no longer valid. Ask for a new one.",
    },
    "form_expired": {
        "mk": "Формуларот истече. Обидете се повторно.",
        "sq": "Formulari skadoi. Provoni përsëri.",
        "en": "The form expired. Please try again.",
    },
    "demo_totp_note": {
        "mk": "Во развојниот режим, тековниот код за секоја демо сметка е прикажан тука.",
        "sq": "Në modalitetin e zhvillimit, kodi aktual i çdo llogarie demo shfaqet këtu.",
        "en": "In development mode the current code of each demo account is shown here.",
    },
    "citizens_hint": {
        "mk": "Граѓанин: внесете ЕМБГ од демото; кодот ќе се појави во развојното сандаче.",
        "sq": "Qytetar: shkruani një NVAQ nga demo; kodi shfaqet në kutinë e zhvillimit.",
        "en": "Citizen: enter a demo personal number; the code appears in the development outbox.",
    },
}


def t(key: str, language: str, **values: str) -> str:
    texts = TEXTS[key]
    text = texts.get(language) or texts["en"]
    return text.format(**values) if values else text


def from_accept_language(header: str) -> str | None:
    weighted = []
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        weighted.append((quality, tag.strip().lower()[:2]))
    for _quality, code in sorted(weighted, key=lambda pair: -pair[0]):
        if code in LANGUAGES:
            return code
    return None


def choose_language(request: Request, profile: str | None = None, default: str = "mk") -> str:
    """?lang= → the language cookie → the person's profile → Accept-Language → default."""
    for candidate in (
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        profile,
        from_accept_language(request.headers.get("accept-language", "")),
    ):
        if candidate in LANGUAGES:
            return candidate
    return default
