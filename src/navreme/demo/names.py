"""Given and family names plausible for each language: Macedonian in Cyrillic, Albanian in
Latin, and the diaspora's English-speaking households in the passport romanisation."""

from __future__ import annotations

from navreme.demo.alphabet import to_latin

MK_MALE = (
    "Александар", "Никола", "Марко", "Стефан", "Давид", "Петар", "Димитар", "Филип", "Горан",
    "Зоран", "Драган", "Игор", "Владимир", "Дејан", "Бојан", "Иван", "Благоја", "Трајче",
    "Борис", "Кирил", "Сашо", "Томе", "Ѓорѓи", "Љупчо", "Златко", "Мартин", "Андреј", "Лука",
    "Јован", "Ристо", "Стојан", "Васил", "Илија", "Тони", "Дарко", "Виктор", "Методија",
    "Митко", "Ненад", "Огнен", "Павле", "Страхил", "Христијан", "Ѓоко", "Жарко", "Душко",
)  # fmt: skip
MK_FEMALE = (
    "Марија", "Ана", "Елена", "Ивана", "Сара", "Јована", "Мила", "Ангела", "Теодора",
    "Александра", "Билјана", "Снежана", "Весна", "Гордана", "Катерина", "Наташа", "Лидија",
    "Светлана", "Даниела", "Симона", "Маја", "Софија", "Милена", "Јасмина", "Верка",
    "Благица", "Цвета", "Љубица", "Мирјана", "Надица", "Стојанка", "Фросина", "Ирена",
    "Бисера", "Виолета", "Жанета", "Искра", "Калина", "Лена", "Нада", "Ружица", "Танја",
)  # fmt: skip
MK_FAMILY = (
    "Петровски", "Николовски", "Стојановски", "Јовановски", "Трајковски", "Ристовски",
    "Димитровски", "Илиевски", "Костовски", "Ангеловски", "Стефановски", "Митревски",
    "Наумовски", "Јаневски", "Поповски", "Темелковски", "Здравковски", "Андоновски",
    "Атанасов", "Георгиев", "Стојанов", "Петров", "Димов", "Митев", "Николов", "Тасев",
    "Божинов", "Спасов", "Ефтимов", "Велковски", "Тодоровски", "Марковски", "Симоновски",
    "Блажевски", "Кузмановски", "Ѓорѓиевски", "Арсовски", "Алексовски", "Ивановски",
    "Пановски", "Стојчевски", "Крстевски", "Талевски", "Костадинов", "Зафиров", "Ташковски",
    "Ристески", "Јосифовски", "Најдовски", "Шекеринов", "Чаловски", "Ќосевски", "Џамбазов",
)  # fmt: skip
SQ_MALE = (
    "Arben", "Agron", "Besnik", "Bekim", "Driton", "Fatmir", "Flamur", "Gëzim", "Ilir",
    "Jetmir", "Kushtrim", "Labinot", "Mentor", "Naim", "Petrit", "Shpëtim", "Valon", "Visar",
    "Xhevdet", "Arlind", "Blerim", "Dardan", "Egzon", "Erion", "Fisnik", "Lirim", "Mirlind",
    "Muhamed", "Ramadan", "Sami", "Skender", "Bujar", "Burim", "Ardit", "Leotrim", "Enis",
)  # fmt: skip
SQ_FEMALE = (
    "Albana", "Arta", "Blerta", "Donika", "Drita", "Elira", "Erza", "Fatmire", "Flutura",
    "Jehona", "Liridona", "Mimoza", "Shqipe", "Teuta", "Valbona", "Vlora", "Zana", "Arbnora",
    "Besa", "Diellza", "Edona", "Fjolla", "Gentiana", "Hana", "Lirije", "Merita", "Nora",
    "Rina", "Vjosa", "Xhemile", "Ajshe", "Shpresa", "Lindita", "Mirjeta", "Qëndresa",
)  # fmt: skip
# Albanian surnames do not change with sex.
SQ_FAMILY = (
    "Ahmeti", "Xhaferi", "Memeti", "Ibraimi", "Rexhepi", "Ademi", "Iseni", "Sulejmani",
    "Mustafa", "Osmani", "Shabani", "Selimi", "Bajrami", "Aliu", "Asani", "Jashari", "Idrizi",
    "Ramadani", "Zeqiri", "Halili", "Fejzullahu", "Jusufi", "Musliu", "Kadriu", "Veliu",
    "Emini", "Hasani", "Salihu", "Bexheti", "Limani", "Zendeli", "Abdullahu", "Izairi",
    "Demiri", "Qazimi", "Dauti",
)  # fmt: skip

# Macedonian surnames agree with sex: -ски → -ска, -ов → -ова, -ев → -ева (either script).
_FEMININE_ENDINGS = (
    ("ски", "ска"), ("цки", "цка"), ("ов", "ова"), ("ев", "ева"), ("ин", "ина"),
    ("ski", "ska"), ("cki", "cka"), ("ov", "ova"), ("ev", "eva"), ("in", "ina"),
)  # fmt: skip


def feminine(surname: str) -> str:
    """The feminine form of a Macedonian surname (Петровски → Петровска)."""
    for male, female in _FEMININE_ENDINGS:
        if surname.endswith(male):
            return surname[: -len(male)] + female
    return surname


def _latin(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(to_latin(name) for name in names)


# (given names by sex, family names) per language; the family name is in its male form.
GIVEN = {
    "mk": {"M": MK_MALE, "F": MK_FEMALE},
    "sq": {"M": SQ_MALE, "F": SQ_FEMALE},
    "en": {"M": _latin(MK_MALE), "F": _latin(MK_FEMALE)},
}
FAMILY = {"mk": MK_FAMILY, "sq": SQ_FAMILY, "en": _latin(MK_FAMILY)}


def family_name(stem: str, *, language: str, sex: str) -> str:
    """The household's surname as this member carries it."""
    return stem if sex == "M" or language == "sq" else feminine(stem)
