extension DemoCompany {
    /// «Медтех»: a medical-equipment wholesaler with a head office in Moscow, a warehouse, a retail shop
    /// and a service centre. docs/demo.md describes who is who and what the scenario does with them.
    public static let medtech = DemoCompany(
        subdivisions: [
            Subdivision(
                code: "head_office", name: "ООО «Медтех Групп»", taxOffice: "7701", serial: 48_213, bik: "044525225"),
            Subdivision(
                code: "warehouse", name: "ООО «Медтех Склад»", taxOffice: "5036", serial: 71_904, bik: "044525593"),
            Subdivision(
                code: "retail", name: "ООО «Медтех Розница»", taxOffice: "7814", serial: 20_577, bik: "044030653"),
            Subdivision(
                code: "service", name: "ООО «Медтех Сервис»", taxOffice: "6671", serial: 33_016, bik: "046577674"),
        ],
        departments: [
            Department(key: "ho_board", subdivision: "head_office", name: "Дирекция"),
            Department(key: "ho_finance", subdivision: "head_office", name: "Финансовая служба", parent: "ho_board"),
            Department(key: "ho_purchasing", subdivision: "head_office", name: "Отдел закупок", parent: "ho_board"),
            Department(key: "ho_logistics", subdivision: "head_office", name: "Логистика и ВЭД", parent: "ho_board"),
            Department(
                key: "ho_office", subdivision: "head_office", name: "Административный отдел", parent: "ho_board"),
            Department(key: "wh_board", subdivision: "warehouse", name: "Дирекция склада"),
            Department(key: "wh_storage", subdivision: "warehouse", name: "Складской комплекс", parent: "wh_board"),
            Department(key: "rt_shop", subdivision: "retail", name: "Магазин на Невском"),
            Department(key: "sc_board", subdivision: "service", name: "Дирекция сервисного центра"),
            Department(key: "sc_service", subdivision: "service", name: "Сервисная служба", parent: "sc_board"),
        ],
        people: [
            Person(key: "sokolov", fullName: "Соколов Андрей Викторович", department: "ho_board", position: "ceo"),
            Person(key: "morozova", fullName: "Морозова Елена Сергеевна", department: "ho_finance", position: "cfo"),
            Person(
                key: "kuznetsova", fullName: "Кузнецова Ирина Павловна", department: "ho_finance",
                position: "chief_accountant"),
            Person(
                key: "lebedev", fullName: "Лебедев Дмитрий Олегович", department: "ho_finance", position: "treasurer"),
            Person(
                key: "novikova", fullName: "Новикова Анна Игоревна", department: "ho_finance", position: "accountant"),
            Person(
                key: "fedorova", fullName: "Фёдорова Ольга Николаевна", department: "ho_finance", position: "accountant"
            ),
            Person(
                key: "vasilyeva", fullName: "Васильева Татьяна Юрьевна", department: "ho_finance",
                position: "payroll_accountant"),
            Person(
                key: "pavlova", fullName: "Павлова Марина Андреевна", department: "ho_finance",
                position: "document_clerk"),
            Person(
                key: "kovaleva", fullName: "Ковалёва Вера Дмитриевна", department: "ho_finance", position: "specialist",
                auditor: true),
            Person(
                key: "volkov", fullName: "Волков Сергей Петрович", department: "ho_purchasing",
                position: "head_of_purchasing"),
            Person(
                key: "zaitseva", fullName: "Зайцева Юлия Александровна", department: "ho_purchasing",
                position: "specialist"),
            Person(key: "orlov", fullName: "Орлов Максим Ильич", department: "ho_purchasing", position: "specialist"),
            Person(
                key: "egorov", fullName: "Егоров Павел Андреевич", department: "ho_logistics",
                position: "head_of_department"),
            Person(
                key: "smirnova", fullName: "Смирнова Наталья Викторовна", department: "ho_logistics",
                position: "logistics_manager"),
            Person(
                key: "belov", fullName: "Белов Артём Сергеевич", department: "ho_logistics", position: "specialist",
                locale: "en"),
            Person(
                key: "grigoryeva", fullName: "Григорьева Светлана Михайловна", department: "ho_office",
                position: "head_of_department"),
            Person(key: "titov", fullName: "Титов Никита Романович", department: "ho_office", position: "specialist"),
            Person(
                key: "stepanov", fullName: "Степанов Игорь Владимирович", department: "wh_board",
                position: "head_of_department"),
            Person(
                key: "romanova", fullName: "Романова Ксения Олеговна", department: "wh_board", position: "treasurer"),
            Person(
                key: "nikitina", fullName: "Никитина Алла Борисовна", department: "wh_board", position: "document_clerk"
            ),
            Person(
                key: "mikhailov", fullName: "Михайлов Олег Геннадьевич", department: "wh_storage",
                position: "warehouse_manager"),
            Person(
                key: "andreeva", fullName: "Андреева Дарья Сергеевна", department: "wh_storage", position: "specialist"),
            Person(key: "fomin", fullName: "Фомин Глеб Аркадьевич", department: "wh_storage", position: "specialist"),
            Person(
                key: "sorokina", fullName: "Сорокина Алёна Викторовна", department: "rt_shop",
                position: "head_of_department"),
            Person(key: "kozlov", fullName: "Козлов Денис Евгеньевич", department: "rt_shop", position: "specialist"),
            Person(
                key: "yakovlev", fullName: "Яковлев Роман Сергеевич", department: "sc_board",
                position: "head_of_department"),
            Person(
                key: "tarasova", fullName: "Тарасова Инна Викторовна", department: "sc_board", position: "treasurer"),
            Person(key: "guseva", fullName: "Гусева Лариса Петровна", department: "sc_board", position: "accountant"),
            Person(
                key: "efimova", fullName: "Ефимова Вероника Ильинична", department: "sc_board",
                position: "document_clerk"),
            // The service department's head left a month ago and nobody holds the post yet: its
            // approvals escalate to the head of the service centre.
            Person(
                key: "ponomarev", fullName: "Пономарёв Илья Андреевич", department: "sc_service",
                position: "head_of_department", leftDaysAgo: 30),
            Person(
                key: "krylov", fullName: "Крылов Антон Викторович", department: "sc_service", position: "specialist"),
            Person(
                key: "medvedeva", fullName: "Медведева Полина Олеговна", department: "sc_service",
                position: "specialist"),
        ],
        substitutions: [
            Substitution(
                absent: "volkov", deputy: "zaitseva", from: -2, until: 12, reason: "отпуск",
                label: "current: Зайцева approves for Волков (vacation)"),
            Substitution(
                absent: "morozova", deputy: "kuznetsova", from: -40, until: -33, reason: "командировка",
                label: "expired: Кузнецова was the CFO's deputy last month"),
            Substitution(
                absent: "sokolov", deputy: "morozova", from: 20, until: 34, reason: "отпуск",
                label: "future: Морозова will stand in for the CEO next month"),
        ],
        counterparties: [
            Counterparty(key: "medsnab", name: "ООО «МедСнаб»", taxOffice: "5004", serial: 10_441, bik: "044525225"),
            Counterparty(
                key: "surgical", name: "АО «Хирургические системы»", taxOffice: "7728", serial: 55_120, bik: "044525187"
            ),
            Counterparty(
                key: "biolab", name: "ООО «БиоЛаб Реагенты»", taxOffice: "7810", serial: 38_802, bik: "044030653"),
            Counterparty(
                key: "cleaning", name: "ООО «Чистый Дом»", taxOffice: "7702", serial: 61_337, bik: "044525974"),
            Counterparty(key: "landlord", name: "ООО «БЦ Сокол»", taxOffice: "7743", serial: 90_215, bik: "044525225"),
            Counterparty(
                key: "carrier", name: "ООО «ТрансЛогистик»", taxOffice: "5029", serial: 14_670, bik: "044525593"),
            Counterparty(
                key: "broker", name: "ООО «Таможенный брокер Восток»", taxOffice: "2540", serial: 27_951,
                bik: "040813608"),
            Counterparty(
                key: "bank", name: "ПАО «Зарплатный банк»", taxOffice: "7707", serial: 83_893, bik: "044525225"),
            Counterparty(
                key: "it", name: "ИП Смирнов Алексей Владимирович", taxOffice: "7719", serial: 402_385,
                bik: "044525974",
                entrepreneur: true),
            Counterparty(
                key: "stationery", name: "ООО «Офис-Снаб»", taxOffice: "7805", serial: 44_129, bik: "044030653"),
            Counterparty(key: "travel", name: "ООО «Тревел Про»", taxOffice: "7704", serial: 67_002, bik: "044525187"),
            Counterparty(
                key: "tools", name: "ООО «Инструмент-Про»", taxOffice: "6658", serial: 19_884, bik: "046577674"),
        ])
}
