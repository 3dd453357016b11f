"""Every disposition, every emergency rule and every negative-list rule, in varied caller wording.

The utterances are the classifier author's own (written from domain knowledge while developing; the team corpus in
tests/corpus is measured separately by bench/classifier_accuracy.py).
"""

from __future__ import annotations

import pytest

from flows.classifier import Classification, Classifier

EMERGENCIES = [
    ('俺家着火了快来人啊', 'fire'),
    ('嗯那个我们楼下那个电动车着了', 'fire'),
    ('对面楼冒好大的烟 好像是着火了', 'fire'),
    ('厨房油锅着起来了灭不掉', 'fire'),
    ('快点快点 隔壁家起伙了', 'fire'),
    ('着伙了 着伙了', 'fire'),
    ('那个仓库烧起来了 火特别大', 'fire'),
    ('山上着火了 烧了一大片', 'fire'),
    ('楼道里全是烟 我们下不去', 'fire'),
    ('我们这个小区有个车自燃了', 'fire'),
    ('充电的电瓶炸了 屋里都是火', 'fire'),
    ('工地那边爆炸了 轰的一声', 'fire'),
    ('有人在楼里放火', 'fire'),
    ('找火了 在三楼', 'fire'),
    ('家里的插座冒火花 有股糊味', 'fire'),
    ('火烧起来了 救命', 'fire'),
    ('我家被子烧着了', 'fire'),
    ('商场里失火了', 'fire'),
    ('家里有一股很浓的煤气味', 'gas_leak'),
    ('楼道里天然气味特别大 是不是漏了', 'gas_leak'),
    ('没气泄露了 味道好大', 'gas_leak'),
    ('燃气管子被挖掘机挖断了 呲呲往外冒', 'gas_leak'),
    ('我家煤气罐漏气了 关不上', 'gas_leak'),
    ('闻到好大一股燃气的味道', 'gas_leak'),
    ('煤气泄露了怎么办', 'gas_leak'),
    ('液化气罐子在漏', 'gas_leak'),
    ('有人在我家门口砸门 要冲进来', 'crime'),
    ('我老公喝醉了在打我', 'crime'),
    ('有人抢了我的包 往东边跑了', 'crime'),
    ('小区里有个男的拿刀追人', 'crime'),
    ('一群人在饭店门口打架 都打出血了', 'crime'),
    ('我被人打了 他们还在', 'crime'),
    ('家里进贼了', 'crime'),
    ('有人要跳楼 站在楼顶上', 'crime'),
    ('我孩子找不到了 放学就没回来', 'crime'),
    ('有个人一直跟着我 我好害怕', 'crime'),
    ('邻居在家暴 女的一直在喊救命', 'crime'),
    ('他拿着棍子要打我', 'crime'),
    ('街上有人抢劫', 'crime'),
    ('有人在撬我家的锁', 'crime'),
    ('超市里有人偷东西 被我们抓住了', 'crime'),
    ('我朋友说不想活了 要吃药', 'crime'),
    ('有小孩掉河里了', 'crime'),
    ('有人持刀闹事', 'crime'),
    ('我爸突然倒在地上 叫他没反应', 'medical'),
    ('我妈心脏病犯了 喘不上气', 'medical'),
    ('老人摔倒了起不来 头上流了好多血', 'medical'),
    ('孩子抽搐 口吐白沫', 'medical'),
    ('我老伴中风了 嘴歪了说不了话', 'medical'),
    ('有人晕过去了 快叫救护车', 'medical'),
    ('工地上有人从架子上掉下来了', 'medical'),
    ('我老婆要生了 羊水破了', 'medical'),
    ('我儿子吃了老鼠药', 'medical'),
    ('有人煤气中毒了 昏迷了', 'medical'),
    ('老头躺在路边一动不动', 'medical'),
    ('我喘不过气来了 胸口疼得厉害', 'medical'),
    ('有人被电到了', 'medical'),
    ('饭店里好几个人吃了东西都倒了 食物中毒', 'medical'),
    ('快来救护车 我爸没呼吸了', 'medical'),
    ('我妈昏迷不醒', 'medical'),
    ('有个老人晕倒在公交站', 'medical'),
    ('前面路口两辆车撞了 有人受伤', 'traffic_accident'),
    ('我被车撞了 腿动不了', 'traffic_accident'),
    ('高速上追尾了 好几辆车', 'traffic_accident'),
    ('一辆货车翻了 压着一个人', 'traffic_accident'),
    ('出车祸了 车祸 在大桥上', 'traffic_accident'),
    ('电动车被小轿车撞倒了 人躺在地上', 'traffic_accident'),
    ('撞了人就跑了 肇事逃逸', 'traffic_accident'),
    ('渣土车把骑车的压了', 'traffic_accident'),
    ('一辆车冲进河里了', 'traffic_accident'),
    ('出车货了 快来', 'traffic_accident'),
]

# More emergencies in unusual wording: the disposition must be emergency (channel may vary for mixed cases).
EMERGENCIES_ANY = [
    '喂喂 快 俺屋头着火了',
    '那边楼上窗户往外冒黑烟 还有火',
    '我们这里发生火灾了',
    '家里电视机爆了 烧起来了',
    '快来救火啊',
    '整栋楼都是烟 人都往下跑',
    '隔壁家里好大的糊味 敲门没人开 还冒烟',
    '我闻到煤气味 很冲',
    '燃气管道破了 一直在往外喷气',
    '厨房里一股臭鸡蛋的味儿 是不是天然气漏了',
    '天然气那个管子断了',
    '有个男的拿着刀在小区里 吓死人了',
    '两伙人打起来了 有人拿着钢管',
    '我被抢了',
    '有人把我女儿拉上车带走了',
    '我在家 外面有人一直踹门 说要弄死我',
    '我老公要打死我',
    '有人偷电动车 现在还在楼下',
    '商场有个人拿着刀乱砍',
    '邻居两口子打架 打得很厉害 女的在哭',
    '我爷爷倒在卫生间了 叫不应',
    '有人昏倒了 在地铁站',
    '我妈吃了好多安眠药',
    '我孩子发高烧抽过去了',
    '我爸心口疼 出冷汗 站不起来了',
    '有个人倒在马路上 满头是血',
    '小孩被开水烫了 一大片',
    '我朋友喝多了 吐了 叫不醒',
    '有人溺水了 在河边',
    '他割腕了 流了好多血',
    '工地上有人被砸了 钢筋掉下来',
    '老人家在家摔了 动不了 一直喊疼',
    '车祸 有人被压在车底下',
    '大货车和小车撞了 路都堵了 司机出不来',
    '我骑电动车被一个车刮倒了 腿在流血',
    '学校门口有个孩子被车撞了',
    '高速上出事故了 车翻了',
    '有辆车撞到护栏上了 冒烟了',
    '撞人了 撞人了 快来',
    '我开车追尾了前面的车 对方下来要打我',
    '前面出事故了 有人受伤 快派人',
    '有人要自杀 在天台上',
    '我不想活了',
    '有个人爬到桥栏杆外面要跳下去',
    '我家孩子丢了 在商场里找不到了',
    '有人被困在电梯里了 里面有老人',
    '楼塌了 有人被埋了',
    '房子塌了',
    '河堤决口了 水进村了',
    '山体滑坡 把路埋了 有车在下面',
]

NEGATIVE_LIST = [
    ('他借了我五万块钱一直不还 我想告他', 'litigation'),
    ('离婚了 房子怎么分 他不同意', 'litigation'),
    ('法院判了 他就是不给钱', 'litigation'),
    ('我想打官司 跟开发商', 'litigation'),
    ('我爸去世了 遗产几个兄弟分不清楚', 'litigation'),
    ('我要去法院告我们单位', 'litigation'),
    ('公司把我开除了 一分钱补偿都没有', 'labour_arbitration'),
    ('我想申请劳动仲裁 去哪里申请', 'labour_arbitration'),
    ('单位不跟我签劳动合同 现在要辞退我', 'labour_arbitration'),
    ('工作了五年被辞退了 要求经济补偿', 'labour_arbitration'),
    ('我们村支书贪污 把补偿款都拿走了', 'official_misconduct'),
    ('我要举报一个干部收受贿赂', 'official_misconduct'),
    ('那个所长收红包才给办事', 'official_misconduct'),
    ('城管队长是黑社会的保护伞', 'official_misconduct'),
    ('交警给我开的罚单我不服', 'admin_reconsideration'),
    ('我对城管的处罚决定有意见 想申请复议', 'admin_reconsideration'),
    ('环保局罚了我们厂二十万 太冤枉了', 'admin_reconsideration'),
    ('我上访的事情到现在没结果', 'petition_case'),
    ('信访局那边说转给你们了 我问问进度', 'petition_case'),
    ('我没钱请律师 能不能给我找个免费的', 'legal_aid'),
    ('想咨询一下法律问题 工伤赔偿打官司需要找律师吗', 'legal_aid'),
    ('网上买的衣服质量太差 商家不给退货', 'consumer_dispute'),
    ('健身房老板跑路了 卡里还有三千块钱', 'consumer_dispute'),
    ('手机刚买一个礼拜就坏了 店里不给换', 'consumer_dispute'),
    ('理发店办的卡 现在不让用了', 'consumer_dispute'),
    ('我是河南的 在这边打工 我老家的地被人占了', 'other_city'),
    ('我在上海的房子漏水 物业不管', 'other_city'),
    ('这事在外地 不在咱们这 能帮我反映吗', 'other_city'),
    ('你帮我查一下这个手机号是谁的', 'privacy'),
    ('我要查我前妻现在住在哪', 'privacy'),
    ('能不能告诉我那个欠我钱的人的电话', 'privacy'),
    ('把投诉我的那个人的电话给我', 'privacy'),
    ('我家院子里盖了两间房 城管说是违建要拆 你们帮我说说别拆', 'illegal_building'),
    ('我那个阳光房能不能给我办个证', 'illegal_building'),
    ('违章建筑都盖了十年了 凭什么现在拆', 'illegal_building'),
    ('我爸快不行了 他想土葬 不想火化', 'burial'),
    ('我们村不让土葬 我想把我妈埋在自家地里', 'burial'),
    ('对面楼的尖角对着我家 风水不好 要求拆了', 'fengshui'),
    ('门口那个电线杆挡了我家的财运 必须挪走', 'fengshui'),
    ('我有车有房 但是也想申请低保', 'benefits_ineligible'),
    ('不符合条件也要给我廉租房', 'benefits_ineligible'),
    ('政府必须给我安排个工作', 'job_demand'),
    ('我儿子大学毕业了 你们给他安排一个事业编', 'job_demand'),
    ('那个城管态度太差 必须把他开除', 'dismiss_official'),
    ('我要求撤了这个局长的职', 'dismiss_official'),
    ('你们都是一群废物 啥也干不了', 'malicious'),
    ('没事 就是无聊打着玩', 'malicious'),
    ('我就不挂 我就占着你们的线', 'malicious'),
    ('这个事你们已经答复过了 但是我不接受 我还要继续打', 'repeat'),
    ('都给我解释过好几次了 我就是不服', 'repeat'),
    ('我炒股亏了 政府得给我补回来', 'beyond_policy'),
    ('要求政府给我赔一百万', 'beyond_policy'),
    ('政府给我介绍个对象吧', 'beyond_policy'),
    ('我跟我老公要离婚 孩子归谁', 'litigation'),
    ('邻居占了我家的宅基地 我要去法院告他', 'litigation'),
    ('他欠我钱 打了欠条 到现在不还', 'litigation'),
    ('法院的判决都下来半年了 执行不了', 'litigation'),
    ('我想起诉物业公司', 'litigation'),
    ('干了三年 公司突然说不要我了 也不给赔偿', 'labour_arbitration'),
    ('厂里不给我们交社保还说要解除合同 我要仲裁', 'labour_arbitration'),
    ('怎么申请劳动仲裁', 'labour_arbitration'),
    ('镇上的干部吃拿卡要 办个事得送礼', 'official_misconduct'),
    ('村长把低保名额都给了自己亲戚', 'official_misconduct'),
    ('我要向纪委反映我们局长的问题', 'official_misconduct'),
    ('违章停车被罚了两百 我觉得不合理 想申诉', 'admin_reconsideration'),
    ('市场监管局吊销我的执照 我不服', 'admin_reconsideration'),
    ('我之前信访过 那个事到现在怎么样了', 'petition_case'),
    ('上访材料交上去了 什么时候有答复', 'petition_case'),
    ('我需要一个律师 但是家里困难', 'legal_aid'),
    ('哪里可以免费咨询法律', 'legal_aid'),
    ('装修公司收了钱不干活了', 'consumer_dispute'),
    ('在拼多多买的东西是假货 商家不理', 'consumer_dispute'),
    ('买的电动车没骑几天就坏了 店家不给修', 'consumer_dispute'),
    ('美容院办了卡 现在关门了', 'consumer_dispute'),
    ('网购的东西退货了 钱一直没退回来', 'consumer_dispute'),
    ('我在北京 但是我反映的是我们老家河北那边的事', 'other_city'),
    ('我老家是四川的 那边村里修路占了我家的地', 'other_city'),
    ('你们能不能帮我查一下这个车牌号是谁的', 'privacy'),
    ('帮我查查他家住哪 他欠我钱跑了', 'privacy'),
    ('把那个举报我的人的电话给我', 'privacy'),
    ('我在自己家楼顶搭了个棚子 城管要拆 能不能通融一下', 'illegal_building'),
    ('我家违建能不能补办个手续', 'illegal_building'),
    ('家里老人走了 想埋在老家山上 不火化', 'burial'),
    ('我们这非要火化 我们想土葬行不行', 'burial'),
    ('那个信号塔对着我家 风水不好 要挪走', 'fengshui'),
    ('邻居家的房子比我家高 压了我家的运势', 'fengshui'),
    ('我家条件不够 但是我就要低保', 'benefits_ineligible'),
    ('我有工作 但是也想拿补贴', 'benefits_ineligible'),
    ('我失业了 政府得给我安排个工作', 'job_demand'),
    ('我要求进事业单位 给我解决编制', 'job_demand'),
    ('那个窗口的办事员态度恶劣 你们必须开除她', 'dismiss_official'),
    ('这个书记必须下台', 'dismiss_official'),
    ('哈哈哈 我就是逗你玩的', 'malicious'),
    ('你们这些人都是吃干饭的 滚', 'malicious'),
    ('骂死你们这帮废物', 'malicious'),
    ('这个问题你们已经回复过好几次了 我还是要再反映', 'repeat'),
    ('已经办结了 但是我不满意 我天天打', 'repeat'),
    ('我做生意亏了 政府要给我补贴损失', 'beyond_policy'),
    ('我要政府给我买套房子', 'beyond_policy'),
]

ACCEPT_CATEGORY = [
    ('屋里冷得跟冰窖似的 交了钱不给热', 'heating'),
    ('暖气片上面热下面凉', 'heating'),
    ('水龙头拧开就是黄汤子', 'water'),
    ('我们这片儿三天没来水了', 'water'),
    ('小区的水一股怪味 不敢喝', 'water'),
    ('一到用电高峰就断电 空调都开不了', 'power'),
    ('家门口的电线杆歪了 随时要倒', 'power'),
    ('燃气公司上门安检要收费 合理吗', 'gas'),
    ('想开通天然气 去哪办', 'gas'),
    ('路上的砖都翘起来了 老人走路容易绊倒', 'roads'),
    ('下水道堵了 污水都漫到路上了', 'roads'),
    ('小区那条路一到晚上黑漆漆 灯都不亮', 'street_lights'),
    ('公共厕所脏得没法进', 'sanitation'),
    ('楼下垃圾堆成山了 臭气熏天', 'sanitation'),
    ('对面ktv每天唱到凌晨两点', 'noise'),
    ('楼上小孩天天在家蹦 咚咚咚的', 'noise'),
    ('附近的养猪场臭得受不了', 'pollution'),
    ('家旁边的搅拌站灰特别大 窗台上全是灰', 'pollution'),
    ('学校门口一堆卖小吃的 把路都占了', 'street_vending'),
    ('在工地干了俩月 一分钱没拿到', 'wages'),
    ('公司已经三个月没给我们发钱了', 'wages'),
    ('退休了养老金怎么还没到账', 'social_insurance'),
    ('医保报销比例是多少', 'social_insurance'),
    ('幼儿园收费太贵了', 'education'),
    ('孩子上初中划片划得太远了', 'education'),
    ('公交车站的站牌被撞歪了', 'transport'),
    ('这趟车等了四十分钟都不来', 'transport'),
    ('在餐馆吃饭吃出了一只蟑螂', 'food_safety'),
    ('菜市场卖的豆芽用了药水泡', 'food_safety'),
    ('我想注销个体户 要带什么', 'business_licence'),
    ('社区卫生院的医生态度很差', 'health'),
    ('打九价疫苗要预约吗', 'health'),
    ('身份证丢了去哪补', 'hukou'),
    ('开发商说好的交房时间拖了一年', 'housing'),
    ('我们这个老小区能不能加装电梯', 'housing'),
    ('物业费年年涨 服务越来越差', 'property_management'),
    ('物业把小区的绿地改成了停车位', 'property_management'),
    ('我妈八十多了 高龄补贴怎么领', 'elderly_care'),
    ('社区有没有老年食堂', 'elderly_care'),
    ('楼上养了好几条大狗 电梯里也不牵', 'pets'),
    ('小区里的树长到我家窗户里了', 'greening'),
    ('我们村的村委会一直不开会 什么事也不公开', 'other'),
]

# In scope, several with emergency-looking words (hazards, past events, complaints about services).
ACCEPT_ANY = [
    '那个什么 我们小区里那个井盖又丢了',
    '老板跑了 工钱还没给',
    '俺家那片儿的路灯一直不亮',
    '咋回事 水费咋这么贵',
    '这个路修了半年了咋还没修完',
    '嗯嗯 就是我想问一下那个新生儿医保咋办',
    '楼下饭店天天往下水道倒油',
    '我们村里的路一下雨全是泥 车都进不去',
    '小区停车收费太贵了',
    '商场门口的共享单车堆成山了',
    '我想给市里提个建议 公交线路应该调整一下',
    '我要投诉那个窗口工作人员 让我跑了五趟',
    '社区通知的疫苗接种时间是啥时候',
    '你好 我想咨询一下公租房的申请条件',
    '那个我们这边有个黑诊所 没有执照在给人看病',
    '隔壁在楼道里堆了好多纸箱子 很危险',
    '我们小区消防通道被车堵了 万一着火了消防车进不来',
    '上个月楼里着过火 到现在楼道还是黑的 没人来修',
    '燃气费怎么交 在哪里交',
    '想问一下燃气灶打不着火是怎么回事',
    '我家的煤气表不走了',
    '路口老是出车祸 建议装个红绿灯',
    '救护车收费太贵了 我要投诉',
    '派出所办身份证太慢了',
    '楼上装修天天砸墙 吵死了',
    '隔壁烧烤店油烟太大 熏得没法开窗',
    '我们村有人烧秸秆 烟很大',
    '工厂晚上偷偷排污水 河里的鱼都死了',
    '小区里有人遛狗不拴绳 把小孩吓哭了',
    '家里暖气不热 才十几度',
    '停电一天了 冰箱里的东西都坏了',
    '我们单元的电梯老是坏 上周还困了人',
    '路上有个井盖没了 很危险',
    '公交车司机开车太猛 老人差点摔倒',
    '我想问一下孩子上小学要什么材料',
    '办营业执照要去哪里',
    '社保断缴了怎么补',
    '我要表扬一下社区的王书记 帮我们解决了大问题',
    '建议在我们小区门口增设一个公交站',
    '老板拖欠工资半年了 我们二十多个农民工',
    '老板拖欠我工资 我还要起诉他',
    '医院挂号太难了',
    '户口迁移需要什么手续',
    '小区物业不作为 垃圾堆了一个星期',
    '外卖吃出了虫子 商家不认',
    '菜市场卖的肉是注水肉',
    '我家楼上漏水 渗到我家天花板了',
    '邻居家的狗天天叫 晚上睡不着',
    '楼下的树太高了 挡住了阳光',
    '我想咨询一下老年卡怎么办理',
    '路灯坏了好久了 晚上黑灯瞎火的',
    '那个就是我们那个小区的垃圾没人收',
    '我们那边的自来水发黄 喝不了',
    '小区门口有人摆摊卖菜 堵得车过不去',
    '我想反映一下我们这边公交车太少了',
    '天然气公司收费不合理',
    '我家孩子在学校被同学欺负了 老师不管',
    '我上个月手机被偷了 派出所到现在也没消息',
    '之前那个车祸的赔偿 交警一直没给处理结果',
    '家里老人想住养老院 怎么申请',
    '我是低保户 想问问今年的补贴什么时候发',
    '嗯 那个 就是 我们这边停水了',
    '俺们村的路烂得不成样子了 下雨就没法走',
    '咋回事啊 俺家又没电了',
    '莫得水了 一整天了',
    '想问下公积金咋提取',
    '这个违建你们管不管 邻居在楼顶加盖了一层',
    '马路塌了一个大坑 车都过不去',
    '下雨小区被淹了 地下车库全是水',
    '我家车被别人的车堵住出不来了',
    '垃圾倒在路边没人管',
    '我家老人腿脚不好 动不了 想申请上门护理',
    '楼道的灯坏了 老人上下楼摔了好几次',
    '学校食堂的饭菜吃了好几个孩子拉肚子',
    '小区里的健身器材坏了 孩子玩的时候被夹了手',
    '电梯经常困人 物业也不修',
    '楼上往下扔垃圾 差点砸到人',
    '隔壁工地晚上施工 打桩的声音吵死了',
    '我想问一下120急救培训在哪里报名',
    '前两天被狗咬了 打狂犬疫苗要自费吗',
    '路边的树倒了 挡住了路',
    '这个小区老是停电 一停就是大半天',
    '我们那儿的河水发臭 死鱼漂了一河',
    '昨天下大雨 路上积水淹到膝盖了',
    '出租车司机绕路 多收了我二十块钱',
    '我去年出了车祸 保险的事情到现在还没解决 交警那边推来推去',
    '消防通道被堵了 物业不管',
    '地铁里太挤了 我差点被挤倒',
    '家里燃气灶的火太小了',
    '老人走路不方便 能不能在小区装个扶手',
    '我们楼的外墙皮掉下来了 差点砸到人',
    '防火门坏了 一直关不上',
    '小区的灭火器都过期了',
    '我想咨询一下 孩子打疫苗的事',
    '我家孩子发烧了 社区医院不给看',
    '医院急诊排队排了三个小时',
]

CLARIFY = [
    '喂 喂 听得见吗',
    '你好 我想咨询个事',
    '嗯 啊 那个',
    '我想问一下',
    '我有个问题想反映',
    '你好 是12345吗',
    '喂 你好 我想说个事儿',
    '就是 那个 怎么说呢',
    '哎 你好你好',
    '我要找你们领导',
    '喂 是政府热线吗',
    '你好 嗯 那个 我那个',
    '我想问问那个事',
    '那个什么 我想反映个情况',
    '你们这边能不能处理',
    '喂 能听见吗 喂',
    '我想找人工',
    '呃 就是 我不知道怎么说',
]


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.default()


def _rule_channel(clf: Classifier, rule: str) -> str | None:
    policy = clf.policy
    if rule == "other_city":
        return "other_city_12345"
    found = policy.rule(rule)
    return found.channel


@pytest.mark.parametrize(("text", "rule"), EMERGENCIES)
def test_emergency_rules(clf: Classifier, text: str, rule: str) -> None:
    r = clf.classify(text)
    assert (r.disposition, r.rule, r.channel) == ("emergency", rule, _rule_channel(clf, rule)), r
    assert r.evidence, "an emergency carries the words that triggered it"
    assert r.category is None


@pytest.mark.parametrize("text", EMERGENCIES_ANY)
def test_emergency_unusual_wording(clf: Classifier, text: str) -> None:
    r = clf.classify(text)
    assert r.disposition == "emergency", r
    assert r.channel in ("110", "119", "120", "122")


@pytest.mark.parametrize(("text", "rule"), NEGATIVE_LIST)
def test_negative_list_rules(clf: Classifier, text: str, rule: str) -> None:
    r = clf.classify(text)
    want = "redirect" if rule == "other_city" else clf.policy.rule(rule).disposition  # type: ignore[union-attr]
    assert (r.disposition, r.rule, r.channel) == (want, rule, _rule_channel(clf, rule)), r
    assert r.evidence


def test_every_negative_list_rule_has_at_least_two_phrasings(clf: Classifier) -> None:
    counts: dict[str, int] = {}
    for _text, rule in NEGATIVE_LIST:
        counts[rule] = counts.get(rule, 0) + 1
    assert set(counts) == {r.id for r in clf.policy.rules} | {"other_city"}
    assert min(counts.values()) >= 2


@pytest.mark.parametrize(("text", "category"), ACCEPT_CATEGORY)
def test_accept_categories(clf: Classifier, text: str, category: str) -> None:
    r = clf.classify(text)
    assert (r.disposition, r.category) == ("accept", category), r
    assert r.request_type in ("咨询", "求助", "投诉", "举报", "建议", "表扬")


@pytest.mark.parametrize("text", ACCEPT_ANY)
def test_accept_in_scope(clf: Classifier, text: str) -> None:
    r = clf.classify(text)
    assert r.disposition == "accept", r
    assert r.category is not None and r.channel is None and r.rule is None


@pytest.mark.parametrize("text", CLARIFY)
def test_clarify_when_there_is_no_content(clf: Classifier, text: str) -> None:
    r = clf.classify(text)
    assert r.disposition == "clarify", r
    assert (r.category, r.channel, r.rule) == (None, None, None)


def test_result_shape(clf: Classifier) -> None:
    r = clf.classify("家里停水了")
    assert isinstance(r, Classification)
    assert 0.0 <= r.confidence <= 1.0
    assert r.to_json() == {"text": "家里停水了", "disposition": "accept", "category": "water", "channel": None,
                           "rule": None, "confidence": round(r.confidence, 3)}
